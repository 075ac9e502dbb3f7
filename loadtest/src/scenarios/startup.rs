//! Scenario 6: start-up. From spawning the process on a fresh data directory (so Courier runs
//! its migrations) to the first successful `POST /api/session/guest` (201); the median of
//! several starts.

use super::{Settings, emit, progress};
use crate::client::Api;
use crate::error::Error;
use crate::server::{Kind, Server};
use crate::stats::{self, millis};
use serde_json::json;
use std::time::Duration;

/// Longest a start may take before it counts as failed.
const START_LIMIT: Duration = Duration::from_secs(20);
/// Target for Courier's median.
const TARGET_MS: f64 = 300.0;

pub async fn run(settings: &Settings) -> bool {
    let courier = measure_on(Kind::Courier, settings).await;
    let baseline = measure_on(Kind::Baseline, settings).await;
    let describe = |r: &Result<Vec<Duration>, Error>| match r {
        Ok(starts) => {
            let mut sorted = starts.clone();
            json!({
                "median_ms": millis(stats::median(&mut sorted)),
                "min_ms": millis(sorted[0]),
                "max_ms": millis(sorted[sorted.len() - 1]),
                "starts_ms": starts.iter().map(|d| millis(*d)).collect::<Vec<_>>(),
            })
        }
        Err(error) => json!({ "error": error.to_string() }),
    };
    let mut line = json!({
        "scenario": "startup",
        "starts": settings.starts,
        "courier": describe(&courier),
        "baseline": describe(&baseline),
    });
    if let (Ok(c), Ok(b)) = (&courier, &baseline) {
        let (mut c, mut b) = (c.clone(), b.clone());
        let (c, b) = (millis(stats::median(&mut c)), millis(stats::median(&mut b)));
        line["ratio"] = json!({ "median": stats::ratio(c, b) });
        line["targets"] = json!({ "median_le_300ms": c <= TARGET_MS });
    }
    emit(line);
    courier.is_ok() && baseline.is_ok()
}

async fn measure_on(kind: Kind, settings: &Settings) -> Result<Vec<Duration>, Error> {
    progress("startup", kind, &format!("{} starts", settings.starts));
    let mut starts = Vec::with_capacity(settings.starts);
    for _ in 0..settings.starts.max(1) {
        let server = Server::start(kind, &settings.servers).await?;
        let result = first_guest(&server).await;
        if result.is_err() {
            eprintln!(
                "[startup/{}] server log: {}",
                kind.name(),
                server.log_tail()
            );
        }
        server.stop().await;
        starts.push(result?);
    }
    Ok(starts)
}

/// Retries `POST /api/session/guest` until it answers 201; the time since the spawn.
async fn first_guest(server: &Server) -> Result<Duration, Error> {
    let api = Api::new(&server.base)?;
    loop {
        match api.guest().await {
            Ok(_) => return Ok(server.spawned_at.elapsed()),
            Err(error) if server.spawned_at.elapsed() > START_LIMIT => return Err(error),
            Err(_) => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
}
