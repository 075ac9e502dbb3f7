//! Configuration, parsed once at start-up from flags or `COURIER_*` environment variables.
//! `courier --help` lists every option with its default; README.md repeats them.

use crate::domain::identity::SiteKeys;
use clap::Parser;
use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use std::ffi::OsStr;
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

    /// Sites allowed to embed the chat widget in an iframe, comma separated origins like
    /// https://shop.example.com (scheme://host[:port], no path), or `*` for any site. Sent as
    /// the widget page's `Content-Security-Policy: frame-ancestors`. Default: none, only
    /// Courier's own pages may frame it.
    #[arg(
        long,
        env = "COURIER_EMBED_ORIGINS",
        default_value = "",
        hide_default_value = true,
        value_parser = EmbedOrigins::parse
    )]
    pub embed_origins: EmbedOrigins,

    /// Sites that sign their own users into the widget: comma separated SITE_ID=SECRET pairs
    /// (SITE_ID 1-64 characters of A-Z a-z 0-9 . _ -, SECRET at least 32 bytes). A token signed
    /// with a site's secret (HS256 JWT, `iss` = SITE_ID) gives its user one uid on every device.
    /// Default: none. The secrets are never printed.
    #[arg(
        long,
        env = "COURIER_SITE_KEYS",
        default_value = "",
        hide_default_value = true,
        hide_env_values = true,
        value_parser = SiteKeysParser
    )]
    pub site_keys: SiteKeys,
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

/// The origins allowed to frame the widget (`--embed-origins`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmbedOrigins {
    any: bool,
    origins: Vec<String>,
}

impl EmbedOrigins {
    /// Parses comma separated origins (`scheme://host[:port]`, http or https, a trailing `/`
    /// tolerated, scheme and host lowercased) or `*`. Empty entries are skipped, so an empty
    /// string means none.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parsed = Self::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                parsed.any = true;
                continue;
            }
            let origin = parse_origin(entry).ok_or_else(|| {
                format!(
                    "{entry:?} is not an origin: write scheme://host[:port] with http or https \
                     and no path, like https://shop.example.com, or * for any site"
                )
            })?;
            if !parsed.origins.contains(&origin) {
                parsed.origins.push(origin);
            }
        }
        Ok(parsed)
    }

    /// Whether any site may frame the widget (`*`).
    pub fn any(&self) -> bool {
        self.any
    }

    /// The configured origins, normalised, in the order given.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// The widget page's CSP: `frame-ancestors 'self' ORIGIN...`, or `frame-ancestors *`.
    pub fn frame_ancestors(&self) -> String {
        if self.any {
            return "frame-ancestors *".to_owned();
        }
        let mut csp = "frame-ancestors 'self'".to_owned();
        for origin in &self.origins {
            csp.push(' ');
            csp.push_str(origin);
        }
        csp
    }
}

/// `scheme://host[:port]` normalised, or `None`. Strict, since it goes into a header: a host is
/// letters, digits, dots and dashes (or a bracketed IPv6 address), a port 1 to 65535.
fn parse_origin(text: &str) -> Option<String> {
    let text = text.strip_suffix('/').unwrap_or(text);
    let (scheme, rest) = text.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (address, after) = v6.split_once(']')?;
        let ok = !address.is_empty()
            && address
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !ok {
            return None;
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (format!("[{}]", address.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        };
        let ok = !host.is_empty()
            && !host.starts_with(['.', '-'])
            && !host.ends_with(['.', '-'])
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if !ok {
            return None;
        }
        (host.to_ascii_lowercase(), port)
    };
    match port {
        None => Some(format!("{scheme}://{host}")),
        Some(port) => {
            let number: u16 = port
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| port.parse().ok())
                .flatten()?;
            (number > 0).then(|| format!("{scheme}://{host}:{number}"))
        }
    }
}

/// Parses `--site-keys` with an error message of its own: clap's usual message would repeat
/// the value, secrets included.
#[derive(Clone, Copy, Debug)]
struct SiteKeysParser;

impl TypedValueParser for SiteKeysParser {
    type Value = SiteKeys;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<SiteKeys, clap::Error> {
        let refuse = |why: String| {
            clap::Error::raw(
                ErrorKind::ValueValidation,
                format!("invalid --site-keys (COURIER_SITE_KEYS): {why}\n"),
            )
            .with_cmd(cmd)
        };
        let text = value
            .to_str()
            .ok_or_else(|| refuse("it is not valid UTF-8".to_owned()))?;
        SiteKeys::parse(text).map_err(|e| refuse(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn origins_are_checked_and_normalised() {
        let parsed = EmbedOrigins::parse(
            " https://Shop.Example.com/ ,http://127.0.0.1:8081,https://[::1]:9000,,https://shop.example.com",
        )
        .expect("valid");
        assert_eq!(
            parsed.origins(),
            [
                "https://shop.example.com",
                "http://127.0.0.1:8081",
                "https://[::1]:9000"
            ]
        );
        assert!(!parsed.any());
        assert_eq!(
            parsed.frame_ancestors(),
            "frame-ancestors 'self' https://shop.example.com http://127.0.0.1:8081 https://[::1]:9000"
        );
        for bad in [
            "shop.example.com",
            "ftp://shop.example.com",
            "https://shop.example.com/path",
            "https://shop.example.com?x=1",
            "https://user@shop.example.com",
            "https://",
            "https://shop.example.com:0",
            "https://shop.example.com:70000",
            "https://shop.example.com:80a",
            "https://shop example.com",
            "https://shop.example.com;script-src",
            "https://.example.com",
            "https://[zz]",
            "https://*.example.com",
        ] {
            assert!(EmbedOrigins::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_origins_means_self_only_and_a_star_means_any_site() {
        let none = EmbedOrigins::parse("").expect("empty is fine");
        assert_eq!(none, EmbedOrigins::default());
        assert_eq!(none.frame_ancestors(), "frame-ancestors 'self'");
        let any = EmbedOrigins::parse("*").expect("valid");
        assert!(any.any());
        assert_eq!(any.frame_ancestors(), "frame-ancestors *");
    }

    #[test]
    fn defaults_are_empty_and_flags_are_parsed_at_start_up() {
        let config = Config::try_parse_from(["courier"]).expect("defaults parse");
        assert_eq!(config.embed_origins, EmbedOrigins::default());
        assert!(config.site_keys.is_empty());
        let config = Config::try_parse_from([
            "courier",
            "--embed-origins",
            "https://a.example,https://b.example:8443",
            "--site-keys",
            &format!("shop={SECRET},blog={SECRET}"),
        ])
        .expect("valid flags");
        assert_eq!(config.embed_origins.origins().len(), 2);
        assert_eq!(
            config.site_keys.sites().collect::<Vec<_>>(),
            ["blog", "shop"]
        );
    }

    #[test]
    fn bad_values_refuse_to_start_and_never_print_a_secret() {
        let error = Config::try_parse_from(["courier", "--embed-origins", "https://a.example/x"])
            .expect_err("a path is refused");
        assert_eq!(error.kind(), ErrorKind::ValueValidation);
        let leaked = "a-secret-that-is-too-short";
        let error = Config::try_parse_from(["courier", "--site-keys", &format!("shop={leaked}")])
            .expect_err("a short secret is refused");
        assert_eq!(error.kind(), ErrorKind::ValueValidation);
        let message = error.to_string();
        assert!(message.contains("at least 32 bytes"), "{message}");
        assert!(!message.contains(leaked), "{message}");
    }

    #[test]
    fn the_debug_form_of_the_config_hides_the_secrets() {
        let config = Config::try_parse_from(["courier", "--site-keys", &format!("shop={SECRET}")])
            .expect("valid");
        let debug = format!("{config:?}");
        assert!(debug.contains("shop"), "{debug}");
        assert!(!debug.contains(SECRET), "{debug}");
    }
}
