//! Scenario 1: delivery latency. Idle users each keep a long-poll parked while active pairs
//! exchange one-to-one messages at a fixed rate; for every message, the time from the sender
//! getting its acknowledgment to the recipient's poll returning it. Every acknowledged message
//! must arrive exactly once.

use super::{Settings, Stop, as_json, emit, progress, round2};
use crate::client::{Api, User};
use crate::error::Error;
use crate::server::{Kind, Server};
use crate::stats::{self, Summary};
use serde::Serialize;
use serde_json::json;
use shared::{Cursor, Event, UserId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// What idle users and recipients ask for; above any run, under Courier's cap.
const POLL_TIMEOUT: Duration = Duration::from_secs(25);
/// Most sends waiting for their answer at once; beyond it a due send is counted as skipped.
const MAX_IN_FLIGHT: usize = 1024;
/// How long after the last send acknowledged messages may still arrive.
const DRAIN: Duration = Duration::from_secs(5);
/// Source addresses the idle polls' connections are spread over.
const SOURCES: u8 = 4;

/// One server's figures.
#[derive(Debug, Serialize)]
pub struct Figures {
    /// Idle polls open when sending started, and when it ended.
    pub idle_polls_open_at_start: usize,
    pub idle_polls_open_at_end: usize,
    pub sends_due: u64,
    /// Due sends not made because `MAX_IN_FLIGHT` sends were already waiting.
    pub sends_skipped: u64,
    pub acked: u64,
    pub send_errors: u64,
    pub acked_per_s: f64,
    pub received: usize,
    pub lost: usize,
    pub duplicated: u64,
    /// From a send's acknowledgment to the recipient's poll returning it.
    pub latency: Summary,
    /// From starting a send to its acknowledgment.
    pub send_latency: Summary,
    pub poll_errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

pub async fn run(settings: &Settings) -> bool {
    let courier = measure_on(Kind::Courier, settings).await;
    let baseline = measure_on(Kind::Baseline, settings).await;
    let clean = |r: &Result<Figures, Error>| {
        r.as_ref()
            .is_ok_and(|f| f.lost == 0 && f.duplicated == 0 && f.acked > 0)
    };
    let ok = clean(&courier) && clean(&baseline);
    let mut line = json!({
        "scenario": "latency",
        "parked": settings.parked,
        "rate": settings.rate,
        "pairs": settings.pairs,
        "duration_s": settings.duration.as_secs_f64(),
        "courier": as_json(&courier),
        "baseline": as_json(&baseline),
        "no_loss_no_duplicates": ok,
    });
    if let (Ok(c), Ok(b)) = (&courier, &baseline) {
        line["ratio"] = json!({
            "p50": stats::ratio(c.latency.p50_ms, b.latency.p50_ms),
            "p99": stats::ratio(c.latency.p99_ms, b.latency.p99_ms),
            "max": stats::ratio(c.latency.max_ms, b.latency.max_ms),
        });
        line["targets"] = json!({
            "note": "targets apply at 10,000 parked and 1,000 msg/s",
            "p50_le_1ms": c.latency.p50_ms <= 1.0,
            "p99_le_5ms": c.latency.p99_ms <= 5.0,
            "p99_le_2.5x_baseline": c.latency.p99_ms <= 2.5 * b.latency.p99_ms,
            "no_loss_no_duplicates": ok,
        });
    }
    emit(line);
    ok
}

async fn measure_on(kind: Kind, settings: &Settings) -> Result<Figures, Error> {
    let server = Server::start(kind, &settings.servers).await?;
    let result = measure(&server, settings).await;
    if result.is_err() {
        eprintln!(
            "[latency/{}] server log: {}",
            kind.name(),
            server.log_tail()
        );
    }
    server.stop().await;
    result
}

/// When each message reached its recipient, and how many times.
struct Receipt {
    first: Instant,
    count: u64,
}

#[derive(Default)]
struct Counters {
    idle_open: AtomicUsize,
    poll_errors: AtomicU64,
    send_errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Counters {
    fn error(&self, counter: &AtomicU64, error: &Error) {
        counter.fetch_add(1, Ordering::Relaxed);
        let mut first = self
            .first_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        first.get_or_insert_with(|| error.to_string());
    }
}

type Receipts = Arc<Mutex<HashMap<String, Receipt>>>;

async fn measure(server: &Server, settings: &Settings) -> Result<Figures, Error> {
    let kind = server.kind;
    let api = Api::with_sources(&server.base, SOURCES)?;
    progress(
        "latency",
        kind,
        &format!("creating {} users", settings.parked + 2 * settings.pairs),
    );
    let users = api.guests(settings.parked + 2 * settings.pairs, 32).await?;
    let (idle, active) = users.split_at(settings.parked);
    let counters = Arc::new(Counters::default());
    let receipts: Receipts = Arc::default();
    let (stop_all, stop) = Stop::new();
    let mut pollers = JoinSet::new();

    progress(
        "latency",
        kind,
        &format!("parking {} idle polls", idle.len()),
    );
    for (n, user) in idle.iter().cloned().enumerate() {
        pollers.spawn(idle_poller(
            api.clone(),
            n,
            user,
            stop.clone(),
            counters.clone(),
        ));
        if n % 500 == 499 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let pairs: Vec<(User, UserId)> = active
        .chunks_exact(2)
        .map(|pair| (pair[0].clone(), pair[1].uid))
        .collect();
    for pair in active.chunks_exact(2) {
        pollers.spawn(recipient(
            api.clone(),
            pair[1].clone(),
            stop.clone(),
            counters.clone(),
            receipts.clone(),
        ));
    }
    tokio::time::sleep(Duration::from_millis(1_000 + settings.parked as u64 / 10)).await;
    let idle_polls_open_at_start = counters.idle_open.load(Ordering::Relaxed);

    progress(
        "latency",
        kind,
        &format!(
            "sending {} msg/s for {:?}",
            settings.rate, settings.duration
        ),
    );
    let acks: Arc<Mutex<Vec<(String, Instant, Duration)>>> = Arc::default();
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut sends = JoinSet::new();
    let mut due = 0u64;
    let mut skipped = 0u64;
    let start = Instant::now();
    while start.elapsed() < settings.duration {
        let due_now = (start.elapsed().as_secs_f64() * f64::from(settings.rate)) as u64;
        while due < due_now {
            let (from, to) = pairs[(due % pairs.len() as u64) as usize].clone();
            match in_flight.clone().try_acquire_owned() {
                Ok(permit) => {
                    let (api, acks, counters) = (api.clone(), acks.clone(), counters.clone());
                    let id = format!("lt{due}");
                    sends.spawn(async move {
                        let sent_at = Instant::now();
                        match api.send(&from, to, id.clone(), format!("hello {id}")).await {
                            Ok(_) => {
                                let acked_at = Instant::now();
                                acks.lock()
                                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                                    .push((id, acked_at, acked_at - sent_at));
                            }
                            Err(error) => counters.error(&counters.send_errors, &error),
                        }
                        drop(permit);
                    });
                }
                Err(_) => skipped += 1,
            }
            due += 1;
        }
        while sends.try_join_next().is_some() {}
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let sending_time = start.elapsed();
    let _ = tokio::time::timeout(Duration::from_secs(35), async {
        while sends.join_next().await.is_some() {}
    })
    .await;
    sends.abort_all();
    let idle_polls_open_at_end = counters.idle_open.load(Ordering::Relaxed);

    // Let every acknowledged message arrive, for at most DRAIN.
    let drain_until = Instant::now() + DRAIN;
    let acks = std::mem::take(&mut *acks.lock().unwrap_or_else(|p| p.into_inner()));
    while Instant::now() < drain_until {
        let arrived = {
            let receipts = receipts.lock().unwrap_or_else(|p| p.into_inner());
            acks.iter().all(|(id, _, _)| receipts.contains_key(id))
        };
        if arrived {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_all.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while pollers.join_next().await.is_some() {}
    })
    .await;
    pollers.abort_all();

    let receipts = std::mem::take(&mut *receipts.lock().unwrap_or_else(|p| p.into_inner()));
    let mut latencies = Vec::with_capacity(acks.len());
    let mut lost = 0;
    let mut send_latencies: Vec<Duration> = acks.iter().map(|(_, _, d)| *d).collect();
    for (id, acked_at, _) in &acks {
        match receipts.get(id) {
            // A poll may return before the sender has read its answer: that is 0, not negative.
            Some(receipt) => latencies.push(receipt.first.saturating_duration_since(*acked_at)),
            None => lost += 1,
        }
    }
    let duplicated = receipts.values().map(|r| r.count.saturating_sub(1)).sum();
    let first_error = counters
        .first_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Ok(Figures {
        idle_polls_open_at_start,
        idle_polls_open_at_end,
        sends_due: due,
        sends_skipped: skipped,
        acked: acks.len() as u64,
        send_errors: counters.send_errors.load(Ordering::Relaxed),
        acked_per_s: round2(acks.len() as f64 / sending_time.as_secs_f64()),
        received: receipts.len(),
        lost,
        duplicated,
        latency: Summary::of(&mut latencies),
        send_latency: Summary::of(&mut send_latencies),
        poll_errors: counters.poll_errors.load(Ordering::Relaxed),
        first_error,
    })
}

/// An idle user: keeps one poll parked until the stop.
async fn idle_poller(api: Api, n: usize, user: User, mut stop: Stop, counters: Arc<Counters>) {
    let mut after = Cursor(0);
    loop {
        counters.idle_open.fetch_add(1, Ordering::Relaxed);
        let result = tokio::select! {
            _ = stop.stopped() => None,
            result = api.poll(n, &user, after, POLL_TIMEOUT) => Some(result),
        };
        counters.idle_open.fetch_sub(1, Ordering::Relaxed);
        match result {
            None => return,
            Some(Ok(batch)) => after = batch.cursor,
            Some(Err(error)) => {
                counters.error(&counters.poll_errors, &error);
                tokio::select! {
                    _ = stop.stopped() => return,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
        }
    }
}

/// A recipient of one active pair: polls in a loop and notes when each message arrives.
async fn recipient(
    api: Api,
    user: User,
    mut stop: Stop,
    counters: Arc<Counters>,
    receipts: Receipts,
) {
    let mut after = Cursor(0);
    loop {
        let result = tokio::select! {
            _ = stop.stopped() => return,
            result = api.poll(0, &user, after, POLL_TIMEOUT) => result,
        };
        match result {
            Ok(batch) => {
                let now = Instant::now();
                let mut receipts = receipts.lock().unwrap_or_else(|p| p.into_inner());
                for event in batch.events {
                    if let Event::Message { message } = event
                        && message.sender != user.uid
                    {
                        receipts
                            .entry(message.client_msg_id.0)
                            .and_modify(|r| r.count += 1)
                            .or_insert(Receipt {
                                first: now,
                                count: 1,
                            });
                    }
                }
                after = batch.cursor;
            }
            Err(error) => {
                counters.error(&counters.poll_errors, &error);
                tokio::select! {
                    _ = stop.stopped() => return,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        }
    }
}
