//! The real `courier` binary as a child process, for crash and multi-node tests.

use crate::helpers::{Guest, client, guest_at};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Process {
    pub child: Child,
    pub base: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(data_dir: &Path, database_url: Option<&str>) -> Process {
    start_with(data_dir, database_url, &[])
}

/// Starts the binary with extra command-line options.
pub fn start_with(data_dir: &Path, database_url: Option<&str>, extra: &[&str]) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_courier"));
    command.args(extra);
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    let mut child = command
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(["--static-dir"])
        .arg(data_dir.join("no-static"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("courier starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let base = line
        .trim()
        .strip_prefix("Courier is running at ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    Process { child, base }
}

/// A new guest of the process at `base`.
pub async fn guest(base: &str) -> Guest {
    guest_at(&client(), base).await
}
