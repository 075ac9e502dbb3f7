//! Building and running the server: `Application::build` binds the listener (port 0 works, for
//! tests), opens the store and starts background tasks; `run_until_stopped` serves until the
//! shutdown future resolves.

use crate::config::Config;
use crate::http;
use crate::notify::{self, Notifier};
use crate::service::{AppState, Shared, events, files, presence};
use crate::store::{Backend, Store, StoreError};
use axum::ServiceExt as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
    #[error("cannot open the file store: {0}")]
    FileStore(#[from] crate::files::StorageError),
}

/// A built, bound, not yet serving Courier.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    addr: SocketAddr,
    /// PostgreSQL only: receives other nodes' wake-up hints.
    listener_task: Option<tokio::task::JoinHandle<()>>,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartupError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let node = format!("{:016x}", rand::random::<u64>());
        let database_url = config
            .database_url
            .clone()
            .unwrap_or_else(|| Store::sqlite_url(&config.data_dir));
        let store = Store::open(&database_url, config.db_pool, &node).await?;
        let file_storage = crate::files::FileStorage::open(
            &config.data_dir,
            config.file_store.as_deref(),
            config.file_store_endpoint.as_deref(),
        )?;
        let notifier = Notifier::new();
        store.publish_to(notifier.clone());
        tokio::spawn(notifier.clone().sweep_forever());
        let listener_task = (store.backend() == Backend::Postgres).then(|| {
            tokio::spawn(notify::listen_postgres(
                database_url,
                notifier.clone(),
                node,
            ))
        });
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: config.listen,
            source,
        })?;
        if !config.static_dir.join("index.html").exists() {
            tracing::warn!(dir = %config.static_dir.display(), "web client not built; run scripts/build-frontend.sh (the API works without it)");
        }
        let state = AppState::new(Shared {
            sessions: Arc::default(),
            store,
            notifier,
            config: Arc::new(config),
            presence: Arc::default(),
            files: Arc::new(files::Files::new(file_storage)),
        });
        Ok(Self {
            listener,
            state,
            addr,
            listener_task,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The URL to open in a browser.
    pub fn url(&self) -> String {
        match &self.state.config.public_url {
            Some(url) => url.clone(),
            None => format!("http://{}/", self.addr),
        }
    }

    /// Serves until `shutdown` resolves; then ends parked polls at once and finishes in-flight
    /// requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let state = self.state;
        let pruner = tokio::spawn(events::prune_forever(state.clone()));
        // The first heartbeat before serving, so that this node's users count as online at once.
        state.store.heartbeat(crate::service::now_millis()).await?;
        let sweeper = tokio::spawn(presence::sweep_forever(state.clone()));
        let arrivals = tokio::spawn(presence::record_changes_forever(state.clone()));
        let upload_sweeper = tokio::spawn(files::sweep_forever(state.clone()));
        let notifier = state.notifier.clone();
        let store = state.store.clone();
        tracing::info!(addr = %self.addr, "listening");
        let result = axum::serve(self.listener, http::app(state).into_make_service())
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down");
                notifier.shut_down();
            })
            .await
            .map_err(StartupError::Serve);
        pruner.abort();
        sweeper.abort();
        arrivals.abort();
        upload_sweeper.abort();
        if let Some(task) = self.listener_task {
            task.abort();
        }
        store.close().await;
        result
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
