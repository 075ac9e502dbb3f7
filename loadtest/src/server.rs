//! Starting, measuring and stopping the servers under test, each in its own process on
//! 127.0.0.1 with a fresh data directory.

use crate::error::Error;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Which server a process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Courier,
    Baseline,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Courier => "courier",
            Kind::Baseline => "baseline",
        }
    }
}

/// Where the two server binaries are.
#[derive(Clone, Debug)]
pub struct Binaries {
    pub courier: PathBuf,
    /// This binary, re-executed as `loadtest baseline-server`.
    pub loadtest: PathBuf,
    /// Extra options for Courier (e.g. `--database-url=postgres://...`).
    pub courier_args: Vec<String>,
}

/// A running server process, killed when dropped.
pub struct Server {
    pub kind: Kind,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base: String,
    /// From spawning the process to the address line on its stdout.
    pub spawned_at: Instant,
    child: Child,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts `kind` on a free port with a fresh data directory and waits for its address line.
    pub async fn start(kind: Kind, binaries: &Binaries) -> Result<Self, Error> {
        let dir = tempfile::Builder::new()
            .prefix("courier-loadtest-")
            .tempdir()?;
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let mut command = match kind {
            Kind::Courier => {
                let mut command = Command::new(&binaries.courier);
                command
                    .arg("--listen")
                    .arg("127.0.0.1:0")
                    .arg("--data-dir")
                    .arg(dir.path().join("data"))
                    .arg("--static-dir")
                    .arg(dir.path().join("none"))
                    .arg("--poll-cap")
                    .arg("30s")
                    .args(&binaries.courier_args);
                command
            }
            Kind::Baseline => {
                let mut command = Command::new(&binaries.loadtest);
                command
                    .arg("baseline-server")
                    .arg("--listen")
                    .arg("127.0.0.1:0");
                command
            }
        };
        command
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let spawned_at = Instant::now();
        let mut child = command.spawn().map_err(|e| {
            Error::Setup(format!(
                "cannot start {}: {e}",
                match kind {
                    Kind::Courier => binaries.courier.display(),
                    Kind::Baseline => binaries.loadtest.display(),
                }
            ))
        })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::Setup("the server's stdout is not piped".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(START_TIMEOUT, lines.next_line()).await;
        let line = match line {
            Ok(Ok(Some(line))) => line,
            _ => {
                let log = tail_of(&dir.path().join("server.log"));
                return Err(Error::Setup(format!(
                    "{} printed no address line; its log ends with: {log}",
                    kind.name()
                )));
            }
        };
        // Keep reading stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let base = line
            .split_once("running at ")
            .map(|(_, url)| url.trim().trim_end_matches('/').to_owned())
            .filter(|url| url.starts_with("http://127.0.0.1:"))
            .ok_or_else(|| {
                Error::Setup(format!("unexpected first line from the server: {line}"))
            })?;
        Ok(Self {
            kind,
            base,
            spawned_at,
            child,
            dir,
        })
    }

    /// The server's resident memory now, in KiB (`VmRSS` of /proc/PID/status).
    pub fn rss_kib(&self) -> Result<u64, Error> {
        let pid = self
            .child
            .id()
            .ok_or_else(|| Error::Setup(format!("{} has exited", self.kind.name())))?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| Error::Setup(format!("no VmRSS in /proc/{pid}/status")))
    }

    /// The last lines of the server's log (stderr), for error reports.
    pub fn log_tail(&self) -> String {
        tail_of(&self.dir.path().join("server.log"))
    }

    /// Asks the server to stop (SIGTERM), and kills it if it has not exited in time.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id().and_then(|pid| i32::try_from(pid).ok()) {
            // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        if tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// The last few hundred bytes of a log file, on one line.
fn tail_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(600);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].replace('\n', " | ")
}

/// Raises this process's soft open-file limit to its hard limit (children inherit it).
/// Returns the soft limit in force afterwards.
pub fn raise_open_file_limit() -> libc::rlim_t {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur
}
