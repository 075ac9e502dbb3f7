//! The test harness: the real server on 127.0.0.1:0 with a fresh SQLite file per test, and a
//! small HTTP client per guest.

use backend::{Application, Config};
use reqwest::{Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::{
    ConversationId, ConversationList, Cursor, EventBatch, GuestSession, Me, MessagePage, SendAck,
    UserId,
};
use std::path::PathBuf;
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Which store the current test runs on; set by `store_test!`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    pub static STORE: StoreKind;
}

/// `TEST_DATABASE_URL`, when PostgreSQL tests should run.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// A fresh PostgreSQL database for one test, dropped when the test ends.
pub struct TestDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        use sqlx::Connection;
        let admin_url = postgres_url().expect("TEST_DATABASE_URL is set");
        let name = format!("courier_test_{:016x}", rand::random::<u64>());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to TEST_DATABASE_URL");
        sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create a test database");
        let base = admin_url.split('?').next().unwrap_or(&admin_url);
        let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
        TestDatabase {
            url: format!("{server}/{name}"),
            admin_url,
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; do the async clean-up on a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                use sqlx::Connection;
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::Executor::execute(&mut admin, sql.as_str()).await;
                }
            });
        })
        .join();
    }
}

/// The store of the running test (SQLite outside `store_test!`).
pub fn current_store() -> StoreKind {
    STORE.try_with(|kind| *kind).unwrap_or(StoreKind::Sqlite)
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    _dir: Option<TempDir>,
    _database: Option<TestDatabase>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the server with a fresh data directory; `tweak` shrinks timeouts and limits.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut app = Self::spawn_in(dir.path().to_path_buf(), tweak).await;
        app._dir = Some(dir);
        app
    }

    /// Starts the server on an existing data directory (for restarts).
    pub async fn spawn_in(data_dir: PathBuf, tweak: impl FnOnce(&mut Config)) -> Self {
        if std::env::var_os("RUST_LOG").is_some() {
            backend::telemetry::init();
        }
        let mut config = Config::for_data_dir(data_dir.clone());
        let database = match current_store() {
            StoreKind::Sqlite => None,
            StoreKind::Postgres => Some(TestDatabase::create().await),
        };
        config.database_url = database.as_ref().map(|db| db.url.clone());
        config.listen = "127.0.0.1:0".parse().expect("address");
        config.static_dir = data_dir.join("no-static");
        tweak(&mut config);
        let app = Application::build(config).await.expect("server builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.run_until_stopped(async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        TestApp {
            base,
            http: client(),
            stop: Some(stop),
            server: Some(server),
            _dir: None,
            _database: database,
        }
    }

    /// Stops the server gracefully and waits for it; keeps the data directory.
    pub async fn stop(&mut self) -> Option<TempDir> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task ends cleanly");
        }
        self._dir.take()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A new guest, via the public endpoint.
    pub async fn guest(&self) -> Guest {
        guest_at(&self.http, &self.base).await
    }
}

/// A new guest of the server at `base`, via the public endpoint.
pub async fn guest_at(http: &reqwest::Client, base: &str) -> Guest {
    let response = http
        .post(format!("{base}/api/session/guest"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);
    let session: GuestSession = response.json().await.expect("guest body");
    Guest {
        base: base.to_owned(),
        http: http.clone(),
        uid: session.uid,
        token: session.token,
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

/// One signed-in guest, authenticating by bearer token.
#[derive(Clone)]
pub struct Guest {
    pub base: String,
    pub http: reqwest::Client,
    pub uid: UserId,
    pub token: String,
}

impl Guest {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(&self.token)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(&self.token)
    }

    pub fn patch(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.patch(self.url(path)).bearer_auth(&self.token)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.delete(self.url(path)).bearer_auth(&self.token)
    }

    /// POSTs JSON to `path`.
    pub async fn post_json(&self, path: &str, body: Value) -> Response {
        self.post(path).json(&body).send().await.expect("request")
    }

    /// GETs `path`, expects a 2xx and decodes the body.
    pub async fn get_ok<T: DeserializeOwned>(&self, path: &str) -> T {
        ok_json(self.get(path).send().await.expect("request")).await
    }

    /// Every event after `after` that is already there (no parking), and the new cursor.
    pub async fn events_since(&self, after: Cursor) -> (Vec<shared::Event>, Cursor) {
        let batch = self.poll(after, 0.0).await;
        (batch.events, batch.cursor)
    }

    pub async fn me(&self) -> Me {
        ok_json(self.get("/api/me").send().await.expect("request")).await
    }

    /// Sends raw JSON to `/api/messages`.
    pub async fn send_raw(&self, body: Value) -> Response {
        self.post("/api/messages")
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Sends a text message and expects the ack.
    pub async fn send(&self, to: UserId, client_msg_id: &str, content: &str) -> SendAck {
        let response = self
            .send_raw(json!({
                "to": {"user": to},
                "client_msg_id": client_msg_id,
                "msg_type": "text",
                "content": content,
            }))
            .await;
        ok_json(response).await
    }

    pub async fn poll_raw(&self, query: &str) -> Response {
        self.get(&format!("/api/events?{query}"))
            .send()
            .await
            .expect("request")
    }

    pub async fn poll(&self, after: Cursor, timeout_secs: f64) -> EventBatch {
        ok_json(
            self.poll_raw(&format!("after={}&timeout={timeout_secs}", after.0))
                .await,
        )
        .await
    }

    /// Every message in this guest's whole stream, read from the start, in stream order.
    pub async fn whole_stream(&self) -> Vec<shared::Message> {
        let mut after = Cursor(0);
        let mut messages = Vec::new();
        loop {
            let batch = self.poll(after, 0.0).await;
            if batch.events.is_empty() {
                return messages;
            }
            after = batch.cursor;
            messages.extend(batch.events.into_iter().filter_map(|e| match e {
                shared::Event::Message { message } => Some(message),
                _ => None,
            }));
        }
    }

    pub async fn conversations(&self) -> ConversationList {
        ok_json(
            self.get("/api/conversations")
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    pub async fn history_raw(&self, conv: &ConversationId, query: &str) -> Response {
        self.get(&format!("/api/conversations/{}/messages?{query}", conv.0))
            .send()
            .await
            .expect("request")
    }

    pub async fn history(&self, conv: &ConversationId, query: &str) -> MessagePage {
        ok_json(self.history_raw(conv, query).await).await
    }

    pub async fn read_raw(&self, conv: &ConversationId, seq: i64) -> Response {
        self.post(&format!("/api/conversations/{}/read", conv.0))
            .json(&json!({ "seq": seq }))
            .send()
            .await
            .expect("request")
    }
}

/// Asserts a 2xx and decodes the body.
pub async fn ok_json<T: DeserializeOwned>(response: Response) -> T {
    let status = response.status();
    let text = response.text().await.expect("body");
    assert!(
        status.is_success(),
        "expected success, got {status}: {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad body {text}: {e}"))
}

/// Asserts an error status with the JSON error body and returns its code.
pub async fn error_code(response: Response, status: StatusCode) -> String {
    let got = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(got, status, "body: {text}");
    let body: shared::ErrorBody =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not an error body {text}: {e}"));
    assert!(!body.message.is_empty());
    body.code
}

/// The content of every message event in a batch.
pub fn contents(batch: &EventBatch) -> Vec<String> {
    batch
        .events
        .iter()
        .filter_map(|e| match e {
            shared::Event::Message { message } => Some(message.content.clone()),
            _ => None,
        })
        .collect()
}
