//! Contract: [`requested`] resolves once this process is asked to stop: Ctrl-C everywhere, and
//! on Unix also SIGTERM (what `kill`, systemd and container runtimes send). Windows has no
//! SIGTERM; its console Ctrl-C / Ctrl-Break is what tokio's `ctrl_c` sees. Used by
//! `trialog serve` (feature `grpc`).

/// Resolves when a stop is requested (see the module's contract). A signal that cannot be
/// listened for is ignored; the other still works.
pub(crate) async fn requested() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = async {
            match signal(SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = ctrl_c => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}
