//! The REST node and prover nodes: job store (sqlx: SQLite or Postgres), API (axum + utoipa),
//! worker loop. No proving or circuit logic lives here: workers call `poa prove`'s functions,
//! models are set up by `poa compile` / `poa setup`'s.

pub mod api;
pub mod chain;
pub mod db;
pub mod jobs;
pub mod keys;
pub mod models;
pub mod worker;

/// Resolves when the process gets SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("shutdown requested");
}

/// A multi-threaded runtime for the node commands (the CLI stages stay synchronous).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
