//! Scenario 2: sustained durable sends. C senders each send one-to-one messages to their own
//! recipient in a closed loop (the next send after the previous answer, which Courier gives
//! only after the commit): messages per second and send latency.
//!
//! Each C runs twice: `stored`, the recipients offline (the server only stores and
//! acknowledges), and `delivered`, every recipient online with a poll parked, reading each
//! message as it comes (the server also wakes the recipient and answers its poll, as in a
//! conversation where both are present). The delivered run also counts every acknowledged
//! message the recipient did not get, or got twice (both must be 0).

use super::{Settings, emit, progress, round2};
use crate::client::{Api, User};
use crate::error::Error;
use crate::server::{Kind, Server};
use crate::stats::{self, Summary};
use serde::Serialize;
use serde_json::{Value, json};
use shared::{Cursor, Event, Seq};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Recipients' polls; short, so that a recipient that has everything stops soon after the run.
const POLL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long after the run acknowledged messages may still arrive.
const DRAIN: Duration = Duration::from_secs(5);

/// Whether the recipients are online during a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Recipients offline: store and acknowledge.
    Stored,
    /// Recipients polling: store, acknowledge, wake and deliver.
    Delivered,
}

const MODES: [Mode; 2] = [Mode::Stored, Mode::Delivered];

/// What the recipients of a `delivered` run got.
#[derive(Debug, Default, Serialize)]
pub struct Delivery {
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub poll_errors: u64,
}

/// One run's figures on one server.
#[derive(Debug, Serialize)]
pub struct Figures {
    pub senders: usize,
    pub mode: Mode,
    pub acked: u64,
    pub errors: u64,
    pub msgs_per_s: f64,
    pub latency: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

pub async fn run(settings: &Settings) -> bool {
    let courier = measure_on(Kind::Courier, settings).await;
    let baseline = measure_on(Kind::Baseline, settings).await;
    let mut runs = Vec::new();
    let mut clean = true;
    let cases = settings
        .senders
        .iter()
        .flat_map(|&senders| MODES.map(|mode| (senders, mode)));
    for (n, (senders, mode)) in cases.enumerate() {
        let pick = |r: &Result<Vec<Figures>, Error>| -> Result<Option<Value>, String> {
            match r {
                Ok(all) => Ok(all.get(n).map(|f| json!(f))),
                Err(error) => Err(error.to_string()),
            }
        };
        let mut run = json!({
            "senders": senders,
            "mode": mode,
            "courier": pick(&courier).unwrap_or_else(|e| Some(json!({ "error": e }))),
            "baseline": pick(&baseline).unwrap_or_else(|e| Some(json!({ "error": e }))),
        });
        for figures in [&courier, &baseline].into_iter().flatten() {
            if let Some(delivery) = figures.get(n).and_then(|f| f.delivery.as_ref()) {
                clean &= delivery.lost == 0 && delivery.duplicated == 0;
            }
        }
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
    clean && courier.is_ok() && baseline.is_ok()
}

async fn measure_on(kind: Kind, settings: &Settings) -> Result<Vec<Figures>, Error> {
    let server = Server::start(kind, &settings.servers).await?;
    let mut all = Vec::new();
    for &senders in &settings.senders {
        for mode in MODES {
            progress(
                "sends",
                kind,
                &format!("{senders} senders, {mode:?}, for {:?}", settings.duration),
            );
            match measure(&server, senders, mode, settings.duration).await {
                Ok(figures) => all.push(figures),
                Err(error) => {
                    eprintln!("[sends/{}] server log: {}", kind.name(), server.log_tail());
                    server.stop().await;
                    return Err(error);
                }
            }
        }
    }
    server.stop().await;
    Ok(all)
}

async fn measure(
    server: &Server,
    senders: usize,
    mode: Mode,
    duration: Duration,
) -> Result<Figures, Error> {
    let api = Api::new(&server.base)?;
    let users = api.guests(2 * senders, 32).await?;
    let mut receivers = JoinSet::new();
    let mut acked_per_pair = Vec::new();
    let senders_done = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let deadline = start + duration;
    if mode == Mode::Delivered {
        for pair in users.chunks_exact(2) {
            let acked = Arc::new(AtomicU64::new(0));
            acked_per_pair.push(acked.clone());
            let (api, to, done) = (api.clone(), pair[1].clone(), senders_done.clone());
            receivers.spawn(async move { receiver(api, to, acked, done).await });
        }
    }
    let mut tasks = JoinSet::new();
    for (n, pair) in users.chunks_exact(2).enumerate() {
        let (api, from, to) = (api.clone(), pair[0].clone(), pair[1].uid);
        let acked = acked_per_pair.get(n).cloned();
        tasks.spawn(async move { sender(api, n, from, to, deadline, acked).await });
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
    senders_done.store(true, Ordering::Release);
    let delivery = if mode == Mode::Delivered {
        let mut delivery = Delivery::default();
        while let Some(joined) = receivers.join_next().await {
            let got = joined.map_err(|e| Error::Setup(format!("a receiver task failed: {e}")))?;
            delivery.received += got.received;
            delivery.lost += got.lost;
            delivery.duplicated += got.duplicated;
            delivery.poll_errors += got.poll_errors;
        }
        Some(delivery)
    } else {
        None
    };
    Ok(Figures {
        senders,
        mode,
        acked: latencies.len() as u64,
        errors,
        msgs_per_s: round2(latencies.len() as f64 / elapsed.as_secs_f64()),
        latency: Summary::of(&mut latencies),
        delivery,
        first_error,
    })
}

/// A recipient online: polls until every sender is done and it has every message its sender
/// got acknowledged (or [`DRAIN`] has passed since the senders were done), counting what it
/// missed or got twice.
async fn receiver(
    api: Api,
    to: User,
    acked: Arc<AtomicU64>,
    senders_done: Arc<AtomicBool>,
) -> Delivery {
    let mut delivery = Delivery::default();
    let mut seen: HashSet<Seq> = HashSet::new();
    let mut after = Cursor(0);
    let mut give_up = None;
    loop {
        if senders_done.load(Ordering::Acquire) {
            let give_up = *give_up.get_or_insert_with(|| Instant::now() + DRAIN);
            if seen.len() as u64 >= acked.load(Ordering::Acquire) || Instant::now() >= give_up {
                break;
            }
        }
        match api.poll(0, &to, after, POLL_TIMEOUT).await {
            Ok(batch) => {
                for event in batch.events {
                    if let Event::Message { message } = event
                        && message.sender != to.uid
                    {
                        delivery.received += 1;
                        if !seen.insert(message.seq) {
                            delivery.duplicated += 1;
                        }
                    }
                }
                after = batch.cursor;
            }
            Err(_) => {
                delivery.poll_errors += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    delivery.lost = acked
        .load(Ordering::Acquire)
        .saturating_sub(seen.len() as u64);
    delivery
}

/// Sends until `deadline`; returns the latencies of acknowledged sends, the failures, and the
/// first failure's text.
async fn sender(
    api: Api,
    n: usize,
    from: User,
    to: shared::UserId,
    deadline: Instant,
    acked: Option<Arc<AtomicU64>>,
) -> (Vec<Duration>, u64, Option<String>) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    let mut k = 0u64;
    while Instant::now() < deadline {
        let sent_at = Instant::now();
        let id = format!("s{n}x{k}");
        match api.send(&from, to, id, format!("message {k}")).await {
            Ok(_) => {
                latencies.push(sent_at.elapsed());
                if let Some(acked) = &acked {
                    acked.fetch_add(1, Ordering::Release);
                }
            }
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
