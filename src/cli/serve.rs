//! `trialog serve --journal PATH [--host 127.0.0.1] [--port 13000] [--lock KIND]
//! [--format optuna] [--threads N]`: Optuna's gRPC storage server over one journal
//! (docs/SERVER.md).

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use trialog::backend::{AnyJournalFile, JournalFormat, OptunaJournalFile};
use trialog::{FileBackend, JournalStorage, Storage};

use super::CliError;
use super::bench::LockArg;

/// The format of a journal `serve` creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NewFormat {
    /// trialog's CRC-framed journal.
    Trialog,
    /// Optuna's JSON lines (Python workers may also write the file directly).
    Optuna,
}

/// Arguments of `trialog serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The journal, either format (detected); created if missing, in --format. Or a journal on
    /// Redis: `redis://host:port/db?prefix=NAME` (docs/REDIS.md).
    #[arg(long)]
    pub journal: PathBuf,
    /// The address to listen on. Only this machine by default: the server has no
    /// authentication (docs/SERVER.md says how to expose it safely).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// The port to listen on.
    #[arg(long, default_value_t = 13000)]
    pub port: u16,
    /// For a trialog journal: the lock its writers use (an Optuna journal always uses Optuna's).
    #[arg(long, value_enum, default_value_t = LockArg::Advisory)]
    pub lock: LockArg,
    /// The format of a journal that does not exist yet.
    #[arg(long, value_enum, default_value_t = NewFormat::Trialog)]
    pub format: NewFormat,
    /// Threads answering HTTP/2 (and the reads that need no waiting); storage calls that may
    /// block run on a separate pool either way. 1 spends the least CPU per call; more spread
    /// many connections over more cores.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: u16,
}

/// Opens (or creates) the journal.
fn open(args: &ArgsView<'_>) -> Result<Arc<dyn Storage>, CliError> {
    let path = args.journal;
    let lib = |e| CliError::lib(path, e);
    // A journal on Redis (docs/REDIS.md): served like a file, shared with whoever else writes
    // that prefix (Python's JournalRedisBackend, other trialog processes).
    if let trialog::location::Location::Redis(url) =
        trialog::location::Location::parse(path.as_os_str())
    {
        return Ok(Arc::new(JournalStorage::open_url(&url).map_err(lib)?));
    }
    let exists = std::fs::metadata(path).map(|m| m.len() > 0).unwrap_or(false);
    let storage: Arc<dyn Storage> = if exists {
        match trialog::backend::detect_format(path).map_err(lib)? {
            Some(JournalFormat::Trialog) => Arc::new(
                JournalStorage::new(
                    FileBackend::open_with(path, &args.lock.file_options(false)).map_err(lib)?,
                )
                .map_err(lib)?,
            ),
            _ => Arc::new(
                JournalStorage::new(AnyJournalFile::open_existing(path).map_err(lib)?)
                    .map_err(lib)?,
            ),
        }
    } else {
        match args.format {
            NewFormat::Trialog => Arc::new(
                JournalStorage::new(
                    FileBackend::open_with(path, &args.lock.file_options(true)).map_err(lib)?,
                )
                .map_err(lib)?,
            ),
            NewFormat::Optuna => Arc::new(
                JournalStorage::new(OptunaJournalFile::open(path).map_err(lib)?).map_err(lib)?,
            ),
        }
    };
    Ok(storage)
}

struct ArgsView<'a> {
    journal: &'a std::path::Path,
    lock: LockArg,
    format: NewFormat,
}

/// Serves until SIGTERM or Ctrl-C, then finishes the calls in flight and exits.
pub fn run(args: &ServeArgs) -> Result<(), CliError> {
    let storage = open(&ArgsView { journal: &args.journal, lock: args.lock, format: args.format })?;
    let addr = SocketAddr::new(args.host, args.port);
    // One thread: no wake-ups between worker threads (docs/SERVER.md, "Benchmarks").
    let mut builder = match args.threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(usize::from(n));
            b
        }
    };
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|e| CliError::msg(format!("starting the server's runtime: {e}")))?;
    runtime.block_on(async {
        // Bind first, so that "listening" is printed only once clients can connect.
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| CliError::msg(format!("cannot listen on {addr}: {e}")))?;
        let bound = listener.local_addr().unwrap_or(addr);
        let journal = args.journal.display();
        let _ = say(&mut std::io::stderr(), format_args!("listening on {bound} for {journal}"));
        // No Nagle: a reply must not wait for the client's delayed ACK (40 ms per call).
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let result = tonic::transport::Server::builder()
            .layer(trialog::grpc::server::layer())
            .add_service(trialog::grpc::server::Service::new(storage).into_server())
            .serve_with_incoming_shutdown(incoming, trialog::grpc::server::shutdown_signal())
            .await;
        let _ = say(&mut std::io::stderr(), format_args!("stopped serving {journal} on {bound}"));
        result.map_err(|e| CliError::msg(format!("serving on {bound}: {e}")))
    })?;
    // Calls still running on the blocking pool finish their storage call; don't wait forever.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    Ok(())
}

/// Writes `trialog serve: ` + `line` + a newline to `out` as one buffer (`eprintln!` writes each
/// piece of its format with a system call of its own). A supervisor that waits for the
/// "listening on" line in a file it shares with the server then never sees a part of it, and
/// one that moves the file's shared offset between two of those calls cannot make the next piece
/// overwrite the line (what made Optuna's suite time out waiting for it once).
fn say(out: &mut impl Write, line: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    out.write_all(format!("trialog serve: {line}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the `write` calls it gets.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_status_line_is_one_write() {
        let mut out = Writes::default();
        let bound = SocketAddr::from(([127, 0, 0, 1], 13000));
        say(&mut out, format_args!("listening on {bound} for {}", "/j/x.journal")).unwrap();
        assert_eq!(out.0, vec![b"trialog serve: listening on 127.0.0.1:13000 for /j/x.journal\n"]);
    }
}
