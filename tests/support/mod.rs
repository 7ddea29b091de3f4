//! Shared by the integration tests that drive an outside program (a
//! browser, a protocol suite) against the real server: start pushlab on
//! 127.0.0.1:0 in its own thread, wait for a child process with a bound.

use std::net::TcpListener;
use std::process::Child;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Waits for `child` at most `limit`; kills it after that. Its exit code,
/// or `None` if it was killed or died of a signal.
pub fn wait_bounded(mut child: Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.code(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = child.kill(); // it may have exited just now
                let _ = child.wait();
                eprintln!(
                    "{:?} took longer than {limit:?} and was stopped",
                    child.id()
                );
                return None;
            }
        }
    }
}

/// pushlab on 127.0.0.1:0, in its own thread, until `stop`.
pub struct Server {
    pub addr: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    thread: JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub fn start(config: pushlab::Config) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(pushlab::run(listener, config, async {
                let _ = stopped.await; // a dropped sender stops the server too
            }))
        });
        Server { addr, stop, thread }
    }

    pub fn stop(self) {
        let _ = self.stop.send(()); // the server may have stopped on its own
        let served = self.thread.join().expect("the server thread panicked");
        served.expect("the server ran");
    }
}
