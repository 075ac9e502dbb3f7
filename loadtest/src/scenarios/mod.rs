//! The scenarios of issue #7. Each runs against Courier and then the baseline, each in a fresh
//! process, and prints one JSON line on stdout (progress goes to stderr).

pub mod fanout;
pub mod frontend;
pub mod latency;
pub mod parked;
pub mod sends;
pub mod startup;
pub mod upload;

use crate::error::Error;
use crate::server::{Binaries, Kind};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;

/// Everything the scenarios read, after `--tiny` has been applied.
#[derive(Clone, Debug)]
pub struct Settings {
    pub servers: Binaries,
    pub parked: usize,
    pub rate: u32,
    pub pairs: usize,
    pub duration: Duration,
    pub senders: Vec<usize>,
    pub hold: usize,
    pub hold_for: Duration,
    /// Parked scenario over HTTP/2: idle polls.
    pub h2_hold: usize,
    /// Group sizes of the fan-out scenario.
    pub fanout: Vec<usize>,
    pub dist: PathBuf,
    pub starts: usize,
    /// Upload scenario: size of each file, in MB, and how many.
    pub upload_mb: usize,
    pub uploads: usize,
}

/// Prints one scenario's JSON line and flushes it, so that a later crash cannot swallow it.
pub fn emit(line: Value) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Progress for the person watching (stderr).
pub fn progress(scenario: &str, kind: Kind, what: &str) {
    eprintln!("[{scenario}/{}] {what}", kind.name());
}

/// A result as JSON, or `{"error": ...}`.
pub fn as_json<T: serde::Serialize>(result: &Result<T, Error>) -> Value {
    match result {
        Ok(figures) => serde_json::to_value(figures).unwrap_or(Value::Null),
        Err(error) => json!({ "error": error.to_string() }),
    }
}

/// A broadcast "stop now" for the tasks of one measurement.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    pub fn new() -> (watch::Sender<bool>, Self) {
        let (sender, receiver) = watch::channel(false);
        (sender, Self(receiver))
    }

    /// Resolves once the stop was given (at once if it already was).
    pub async fn stopped(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// Rounds to two decimals, for figures that are not latencies.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
