//! The address students type. When the server listens beyond loopback
//! (`--addr 0.0.0.0:8080`), the page shows `http://<LAN address>:<port>/`
//! and a QR code of it, so a class finds the teacher's server without
//! anyone reading digits aloud. Bound to loopback only, no one else can
//! reach it, and the page shows nothing.
//!
//! Which address? A laptop has several: loopback, Wi-Fi or Ethernet, maybe
//! a container bridge or a VPN. Listing every interface would put addresses
//! students cannot reach beside the one they can, and a projector needs one
//! right answer. So, in this order:
//! 1. the address this browser used, if it is not loopback: it has already
//!    reached the server by it;
//! 2. the address of the interface the machine's default route leaves by,
//!    which in a classroom is the network the students share. The kernel
//!    names it when a UDP socket is "connected" to an outside address; no
//!    packet is sent.
//!
//! A server bound to one address (`--addr 192.168.1.20:8080`) is reachable
//! by that one only.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use qrcode::QrCode;
use qrcode::render::svg;

/// What the page shows students, when the server listens beyond loopback.
pub struct StudentAddress {
    /// The URLs to type, the likeliest first; empty if none was found.
    pub urls: Vec<String>,
    /// The port, for the teacher to give with an address found by hand.
    pub port: u16,
    /// An inline `<svg>` QR code of the first URL.
    pub qr: Option<String>,
}

/// An address outside this network, used only to ask the kernel which
/// interface would carry traffic there (TEST-NET-1, never routed for real).
const OUTSIDE: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 9);

/// The address block for a server listening on `listening`, as asked by a
/// browser that sent `host` (the Host header); `None` on loopback.
pub fn for_students(listening: SocketAddr, host: Option<&str>) -> Option<StudentAddress> {
    let ip = listening.ip();
    if ip.is_loopback() {
        return None;
    }
    let urls = if ip.is_unspecified() {
        let used = host.and_then(reachable_host);
        let routed = default_route_ip().map(|ip| SocketAddr::new(ip, listening.port()));
        let mut found: Vec<SocketAddr> = used.into_iter().chain(routed).collect();
        found.dedup();
        found.into_iter().map(url).collect()
    } else {
        vec![url(listening)]
    };
    let qr = urls.first().and_then(|first| qr_svg(first));
    Some(StudentAddress {
        urls,
        port: listening.port(),
        qr,
    })
}

/// The Host header as an IP address and port, if it names one other
/// machines could use (not loopback, not link-local). A name is left
/// alone: only an address literal is certain to mean this machine.
fn reachable_host(host: &str) -> Option<SocketAddr> {
    let addr = host
        .parse::<SocketAddr>()
        .or_else(|_| host.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 80)))
        .ok()?;
    let ip = addr.ip();
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_unicast_link_local(),
    };
    (!ip.is_loopback() && !ip.is_unspecified() && !link_local).then_some(addr)
}

/// The IPv4 address of the interface the default route uses, if there is one.
fn default_route_ip() -> Option<IpAddr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect(OUTSIDE).ok()?; // only picks a route: UDP sends nothing here
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}/")
}

/// The QR code of `text` as an inline `<svg>` element: a path in fill
/// attributes, no style attribute, so the page's CSP allows it.
fn qr_svg(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let document = code
        .render::<svg::Color>()
        .quiet_zone(true)
        .min_dimensions(200, 200)
        .build();
    // An XML declaration belongs to a file of its own, not inside HTML.
    let element = document.find("<svg").map(|start| &document[start..])?;
    Some(element.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn loopback_shows_nothing() {
        assert!(for_students(addr("127.0.0.1:8080"), Some("127.0.0.1:8080")).is_none());
        assert!(for_students(addr("[::1]:8080"), None).is_none());
    }

    #[test]
    fn one_bound_address_is_the_address() {
        let shown = for_students(addr("192.168.1.20:8080"), Some("127.0.0.1:8080")).unwrap();
        assert_eq!(shown.urls, ["http://192.168.1.20:8080/"]);
        assert!(shown.qr.unwrap().starts_with("<svg"));
    }

    #[test]
    fn all_interfaces_put_the_address_the_browser_used_first() {
        let shown = for_students(addr("0.0.0.0:8080"), Some("10.1.2.3:8080")).unwrap();
        assert_eq!(shown.urls[0], "http://10.1.2.3:8080/");
        assert_eq!(shown.port, 8080);
    }

    #[test]
    fn only_an_address_other_machines_can_use_counts_as_the_browsers() {
        for host in [
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
            "169.254.1.1:8080",
            "pushlab.example",
        ] {
            assert_eq!(reachable_host(host), None, "{host}");
        }
        assert_eq!(
            reachable_host("192.168.1.20"),
            Some(addr("192.168.1.20:80"))
        );
        assert_eq!(
            reachable_host("[2001:db8::1]:8080"),
            Some(addr("[2001:db8::1]:8080"))
        );
    }

    #[test]
    fn the_qr_code_is_an_svg_element_without_styles() {
        let svg = qr_svg("http://192.168.1.20:8080/").unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains("style"));
    }
}
