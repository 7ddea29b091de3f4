//! The `pushlab` command: parse the command line, bind, serve until Ctrl-C
//! or SIGTERM.

use std::io::IsTerminal;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Ajax polling, long-polling, Server-Sent Events and WebSocket side by side,
/// over one message source, measured.
#[derive(Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// `pushlab` alone serves, with these settings.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the page and the four techniques (the default).
    Serve(ServeArgs),
    /// Load a server with many clients of each technique and measure it.
    Load(pushlab::load::LoadArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on; 0.0.0.0:8080 lets a class connect.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    #[command(flatten)]
    config: pushlab::Config,
}

/// jemalloc instead of glibc's malloc. A burst — one publish answering
/// 10,000 parked long-polls — frees and allocates request heads, response
/// buffers and timers by the ten thousand, and glibc then spends a fifth of
/// the server's CPU merging and splitting free chunks; with jemalloc each
/// answer costs about 18 % less CPU (7.3 against 8.9 µs). The price is
/// memory: an idle WebSocket costs 8.9 KB instead of 8.0 KB (SSE streams and
/// parked long-polls stay the same).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main` starts (`_RJEM_MALLOC_CONF` in
/// the environment still overrides them). jemalloc gives freed memory back
/// to the system only when it is next called — after `dirty_decay_ms`
/// (10 s) — so a server that goes quiet after a burst kept it: ten clients
/// that had stopped reading left it 16 MiB larger for good. A background
/// thread does that purging on time, whether or not anything allocates;
/// the decay itself stays jemalloc's default, so bursts a few seconds apart
/// reuse their memory instead of faulting it in again.
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &[u8; 23] = b"background_thread:true\0";

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        // Colours on a terminal only: a log redirected to a file stays plain text.
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Load(args)) => {
            pushlab::load::main(args).map_err(|e| std::io::Error::other(e.to_string()))
        }
        None => serve(cli.serve),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pushlab: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> std::io::Result<()> {
    // Each client holds a socket: allow as many as the system lets us.
    let _ = rlimit::increase_nofile_limit(u64::MAX); // the default limit still works for a class
    let listener = TcpListener::bind(args.addr)?;
    actix_web::rt::System::new().block_on(pushlab::run(listener, args.config, shutdown_signal()))
}

/// Resolves on Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await; // no handler means no Ctrl-C to wait for
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
