//! TLS, so that browsers speak HTTP/2 to pushlab.
//!
//! Browsers speak HTTP/2 only over TLS: they offer `h2` in the handshake's
//! ALPN extension and the server picks it. (Cleartext HTTP/2, "h2c", is
//! for tools that know in advance, like `curl --http2-prior-knowledge` and
//! `pushlab load --http2`.) Under HTTP/2 every request of a tab is a stream
//! of one connection, so the six-connections-per-origin limit of HTTP/1.1,
//! which three tabs of the page exhaust, is gone.
//!
//! `--tls CERT KEY` serves the certificate chain and the private key of two
//! PEM files. `--tls self-signed` makes a certificate at start for
//! `localhost`, the loopback addresses and the address pushlab listens on:
//! enough for a classroom, where the browser is told once to trust it, and
//! for the tests. A new one each start; nothing is written to disk.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The value of `--tls` that asks for a certificate made at start.
pub const SELF_SIGNED: &str = "self-signed";

/// Where the certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Certificate {
    /// Two PEM files: the chain (leaf first) and its private key.
    Files { cert: PathBuf, key: PathBuf },
    /// Made at start, for the names in [`self_signed_names`].
    SelfSigned,
}

impl Certificate {
    /// Reads `--tls`'s values: none, `self-signed`, or `CERT KEY`.
    pub fn from_args(values: &[String]) -> Result<Option<Self>, String> {
        match values {
            [] => Ok(None),
            [one] if one == SELF_SIGNED => Ok(Some(Certificate::SelfSigned)),
            [cert, key] => Ok(Some(Certificate::Files {
                cert: cert.into(),
                key: key.into(),
            })),
            _ => Err(format!(
                "--tls takes two PEM files (CERT KEY) or `{SELF_SIGNED}`"
            )),
        }
    }
}

/// The rustls settings for `certificate`, served on `listening`. The ALPN
/// list (`h2`, `http/1.1`) is added by actix-http when it wraps them.
pub fn server_config(
    certificate: &Certificate,
    listening: SocketAddr,
) -> io::Result<Arc<ServerConfig>> {
    let (chain, key) = match certificate {
        Certificate::Files { cert, key } => (read_chain(cert)?, read_key(key)?),
        Certificate::SelfSigned => self_signed(listening)?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    Ok(Arc::new(config))
}

/// The names a self-signed certificate covers: `localhost`, both loopback
/// addresses, and the address pushlab listens on unless it is a wildcard
/// (`0.0.0.0` names no host a browser could type).
pub fn self_signed_names(listening: SocketAddr) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let ip = listening.ip();
    if !ip.is_unspecified() && !ip.is_loopback() {
        names.push(ip.to_string());
    }
    names
}

fn self_signed(
    listening: SocketAddr,
) -> io::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let made = rcgen::generate_simple_self_signed(self_signed_names(listening))
        .map_err(io::Error::other)?;
    let key = PrivatePkcs8KeyDer::from(made.signing_key.serialize_der());
    Ok((vec![made.cert.der().clone()], key.into()))
}

fn read_chain(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_error(path, e))?;
    if chain.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: no certificate in it", path.display()),
        ));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> io::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(path, e))
}

fn pem_error(path: &Path, error: rustls::pki_types::pem::Error) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{}: {error}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_takes_two_files_or_self_signed() {
        assert_eq!(Certificate::from_args(&[]), Ok(None));
        assert_eq!(
            Certificate::from_args(&["self-signed".into()]),
            Ok(Some(Certificate::SelfSigned))
        );
        assert!(matches!(
            Certificate::from_args(&["a.pem".into(), "b.pem".into()]),
            Ok(Some(Certificate::Files { .. }))
        ));
        assert!(Certificate::from_args(&["a.pem".into()]).is_err());
    }

    #[test]
    fn a_self_signed_certificate_is_served() {
        let listening: SocketAddr = "192.0.2.7:8443".parse().unwrap();
        assert!(self_signed_names(listening).contains(&"192.0.2.7".to_owned()));
        assert!(server_config(&Certificate::SelfSigned, listening).is_ok());
    }
}
