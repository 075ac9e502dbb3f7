//! Configuration, parsed once at start-up from flags or `COURIER_*` environment variables.
//! `courier --help` lists every option with its default; README.md repeats them.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Courier: guest chat over HTTP long-polling.
#[derive(Clone, Debug, Parser)]
#[command(name = "courier", version, about)]
pub struct Config {
    /// Address to listen on. Port 0 picks a free port.
    #[arg(long, env = "COURIER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory for the SQLite database and uploaded files (`files/`). Created if missing.
    #[arg(long, env = "COURIER_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Database URL. Default: the SQLite file `courier.db` in the data directory. Set
    /// `postgres://USER@HOST:PORT/DB` to run one or more nodes on a shared PostgreSQL.
    #[arg(long, env = "COURIER_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Directory with the built web client (scripts/build-frontend.sh writes it). Served at `/`.
    #[arg(long, env = "COURIER_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,

    /// Public base URL, as browsers see it (for example https://chat.example.com). Printed at
    /// start-up, used as an allowed origin, and an https URL turns on Secure cookies. Defaults to
    /// http://LISTEN.
    #[arg(long, env = "COURIER_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Extra origins (comma separated, like https://shop.example.com) allowed to make mutating
    /// requests, besides the public URL and the request's own host.
    #[arg(long, env = "COURIER_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Longest time a long-poll may park; a client's larger `timeout` is cut to this. Keep every
    /// proxy and load-balancer timeout above it.
    #[arg(long, env = "COURIER_POLL_CAP", default_value = "30s", value_parser = humantime::parse_duration)]
    pub poll_cap: Duration,

    /// Most events returned by one poll; the client polls again at once for the rest.
    #[arg(long, env = "COURIER_POLL_BATCH", default_value_t = 500)]
    pub poll_batch: u32,

    /// How long events stay in a user's stream. A client whose cursor is older gets `reset` and
    /// re-reads its state (messages themselves are kept forever).
    #[arg(long, env = "COURIER_EVENT_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub event_retention: Duration,

    /// How often old events are pruned.
    #[arg(long, env = "COURIER_PRUNE_INTERVAL", default_value = "10m", value_parser = humantime::parse_duration)]
    pub prune_interval: Duration,

    /// Database connections: the read pool with SQLite (writes go through one connection), the
    /// whole pool with PostgreSQL (keep nodes x pool below the server's max_connections).
    #[arg(long, env = "COURIER_DB_POOL", default_value_t = 8)]
    pub db_pool: u32,

    /// How long a user stays online after their last poll ended (a client polls again at once;
    /// this covers reconnects). Friends see them go offline after it.
    #[arg(long, env = "COURIER_PRESENCE_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub presence_grace: Duration,

    /// A node whose heartbeat (every 2 s) is older than this is taken for dead: its users go
    /// offline unless they reconnected to another node.
    #[arg(long, env = "COURIER_NODE_TIMEOUT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub node_timeout: Duration,

    /// Largest request body accepted, in bytes (file uploads have their own limit).
    #[arg(long, env = "COURIER_MAX_BODY", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Largest file a user may upload, in bytes.
    #[arg(long, env = "COURIER_MAX_FILE_BYTES", default_value_t = 100 * 1024 * 1024)]
    pub max_file_bytes: u64,

    /// Most uploads one user may have pending (created, not yet complete); more get
    /// `too_many_uploads` until some complete or expire.
    #[arg(long, env = "COURIER_MAX_PENDING_UPLOADS", default_value_t = 20)]
    pub max_pending_uploads: u32,

    /// An upload not completed this long after it was created fails (`expired`) and its
    /// partial bytes are deleted.
    #[arg(long, env = "COURIER_UPLOAD_EXPIRY", default_value = "24h", value_parser = humantime::parse_duration)]
    pub upload_expiry: Duration,

    /// Where complete files go: unset for the directory `files/` in the data directory, or
    /// `s3://BUCKET[/PREFIX]` for an S3-compatible object store (credentials and region from the
    /// usual AWS_* variables). Uploads are always received into the data directory first.
    #[arg(long, env = "COURIER_FILE_STORE")]
    pub file_store: Option<String>,

    /// Endpoint of an S3-compatible store that is not AWS (for example http://127.0.0.1:9000
    /// for MinIO); same as AWS_ENDPOINT. Plain http also needs AWS_ALLOW_HTTP=true.
    #[arg(long, env = "COURIER_FILE_STORE_ENDPOINT")]
    pub file_store_endpoint: Option<String>,
}

impl Config {
    /// A configuration with every default, for the given data directory. Tests start from this
    /// and shrink the timeouts they exercise.
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        let mut config = Config::parse_from(["courier"]);
        config.data_dir = data_dir;
        config
    }
}
