//! Scenario 2: sustained durable sends. C senders each send one-to-one messages to their own
//! recipient in a closed loop (the next send after the previous answer, which Courier gives
//! only after the commit): messages per second and send latency.

use super::{Settings, emit, progress, round2};
use crate::client::{Api, User};
use crate::error::Error;
use crate::server::{Kind, Server};
use crate::stats::{self, Summary};
use serde::Serialize;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// One run's figures on one server.
#[derive(Debug, Serialize)]
pub struct Figures {
    pub senders: usize,
    pub acked: u64,
    pub errors: u64,
    pub msgs_per_s: f64,
    pub latency: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

pub async fn run(settings: &Settings) -> bool {
    let courier = measure_on(Kind::Courier, settings).await;
    let baseline = measure_on(Kind::Baseline, settings).await;
    let mut runs = Vec::new();
    for (n, &senders) in settings.senders.iter().enumerate() {
        let pick = |r: &Result<Vec<Figures>, Error>| -> Result<Option<Value>, String> {
            match r {
                Ok(all) => Ok(all.get(n).map(|f| json!(f))),
                Err(error) => Err(error.to_string()),
            }
        };
        let mut run = json!({
            "senders": senders,
            "courier": pick(&courier).unwrap_or_else(|e| Some(json!({ "error": e }))),
            "baseline": pick(&baseline).unwrap_or_else(|e| Some(json!({ "error": e }))),
        });
        if let (Ok(c), Ok(b)) = (&courier, &baseline)
            && let (Some(c), Some(b)) = (c.get(n), b.get(n))
        {
            run["ratio"] = json!({
                "msgs_per_s": stats::ratio(c.msgs_per_s, b.msgs_per_s),
                "p99": stats::ratio(c.latency.p99_ms, b.latency.p99_ms),
            });
            if senders == 256 {
                run["targets"] = json!({
                    "msgs_per_s_ge_60pct_baseline": c.msgs_per_s >= 0.6 * b.msgs_per_s,
                });
            }
        }
        runs.push(run);
    }
    emit(json!({
        "scenario": "sends",
        "duration_s": settings.duration.as_secs_f64(),
        "runs": runs,
    }));
    courier.is_ok() && baseline.is_ok()
}

async fn measure_on(kind: Kind, settings: &Settings) -> Result<Vec<Figures>, Error> {
    let server = Server::start(kind, &settings.servers).await?;
    let mut all = Vec::new();
    for &senders in &settings.senders {
        progress(
            "sends",
            kind,
            &format!("{senders} senders for {:?}", settings.duration),
        );
        match measure(&server, senders, settings.duration).await {
            Ok(figures) => all.push(figures),
            Err(error) => {
                eprintln!("[sends/{}] server log: {}", kind.name(), server.log_tail());
                server.stop().await;
                return Err(error);
            }
        }
    }
    server.stop().await;
    Ok(all)
}

async fn measure(server: &Server, senders: usize, duration: Duration) -> Result<Figures, Error> {
    let api = Api::new(&server.base)?;
    let users = api.guests(2 * senders, 32).await?;
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = JoinSet::new();
    for (n, pair) in users.chunks_exact(2).enumerate() {
        let (api, from, to) = (api.clone(), pair[0].clone(), pair[1].uid);
        tasks.spawn(async move { sender(api, n, from, to, deadline).await });
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let (mut done, failed, error) =
            joined.map_err(|e| Error::Setup(format!("a sender task failed: {e}")))?;
        latencies.append(&mut done);
        errors += failed;
        if first_error.is_none() {
            first_error = error;
        }
    }
    let elapsed = start.elapsed();
    Ok(Figures {
        senders,
        acked: latencies.len() as u64,
        errors,
        msgs_per_s: round2(latencies.len() as f64 / elapsed.as_secs_f64()),
        latency: Summary::of(&mut latencies),
        first_error,
    })
}

/// Sends until `deadline`; returns the latencies of acknowledged sends, the failures, and the
/// first failure's text.
async fn sender(
    api: Api,
    n: usize,
    from: User,
    to: shared::UserId,
    deadline: Instant,
) -> (Vec<Duration>, u64, Option<String>) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    let mut k = 0u64;
    while Instant::now() < deadline {
        let sent_at = Instant::now();
        let id = format!("s{n}x{k}");
        match api.send(&from, to, id, format!("message {k}")).await {
            Ok(_) => latencies.push(sent_at.elapsed()),
            Err(error) => {
                errors += 1;
                first_error.get_or_insert_with(|| error.to_string());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        k += 1;
    }
    (latencies, errors, first_error)
}
