//! Scenario 3: parked polls. Opens `--hold` idle long-polls, each from its own user over its
//! own HTTP/1.1 connection (as browsers do), and counts how many the server holds until their
//! timeout answers them; the server's resident memory per parked poll comes from its VmRSS
//! before and while they are parked. A probe message checks that the server still serves.

use super::{Settings, as_json, emit, progress, round2};
use crate::client::{Api, User};
use crate::error::Error;
use crate::server::{Kind, Server};
use crate::stats::{self, millis};
use serde::Serialize;
use serde_json::json;
use shared::{Cursor, Event};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Polls opened per second while ramping up.
const RAMP_PER_S: usize = 5_000;
/// Source addresses the connections are spread over (127.0.0.1 to .8).
const SOURCES: u8 = 8;
/// Target: polls held on HTTP/1.1.
const TARGET_HELD: usize = 19_000;
/// Target: polls held on HTTP/2.
const TARGET_HELD_H2: usize = 50_000;
/// Streams per HTTP/2 connection (hyper's server allows 200 concurrent streams by default).
const H2_STREAMS_PER_CONNECTION: usize = 150;

/// How the polls reach the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    /// One HTTP/1.1 connection per poll, as browsers long-poll.
    Http1,
    /// HTTP/2 without TLS, many polls per connection.
    Http2,
}

/// One server's figures.
#[derive(Debug, Serialize)]
pub struct Figures {
    pub opened: usize,
    /// Polls answered with an empty batch at (or after) their timeout: they were parked.
    pub held: usize,
    pub answered_early: usize,
    pub errors: usize,
    pub ramp_s: f64,
    pub rss_before_kib: u64,
    pub rss_peak_kib: u64,
    pub rss_per_poll_bytes: f64,
    /// A message sent and read while every poll was parked, send to read.
    pub probe_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

pub async fn run(settings: &Settings) -> bool {
    let mut ok = true;
    for protocol in [Protocol::Http1, Protocol::Http2] {
        let (polls, target) = match protocol {
            Protocol::Http1 => (settings.hold, TARGET_HELD),
            Protocol::Http2 => (settings.h2_hold, TARGET_HELD_H2),
        };
        let courier = measure_on(Kind::Courier, settings, protocol, polls).await;
        let baseline = measure_on(Kind::Baseline, settings, protocol, polls).await;
        let mut line = json!({
            "scenario": "parked",
            "protocol": match protocol {
                Protocol::Http1 => "http/1.1, one connection per poll",
                Protocol::Http2 => "h2c, many polls per connection",
            },
            "polls": polls,
            "courier": as_json(&courier),
            "baseline": as_json(&baseline),
        });
        if let (Ok(c), Ok(b)) = (&courier, &baseline) {
            line["ratio"] = json!({
                "held": stats::ratio(c.held as f64, b.held as f64),
                "rss_per_poll": stats::ratio(c.rss_per_poll_bytes, b.rss_per_poll_bytes),
            });
            line["targets"] = json!({
                format!("held_ge_{target}"): c.held >= target,
                "rss_per_poll_le_1.5x_baseline": c.rss_per_poll_bytes <= 1.5 * b.rss_per_poll_bytes,
            });
        }
        emit(line);
        ok &= courier.is_ok() && baseline.is_ok();
    }
    ok
}

async fn measure_on(
    kind: Kind,
    settings: &Settings,
    protocol: Protocol,
    polls: usize,
) -> Result<Figures, Error> {
    let server = Server::start(kind, &settings.servers).await?;
    let result = measure(&server, settings, protocol, polls).await;
    if result.is_err() {
        eprintln!("[parked/{}] server log: {}", kind.name(), server.log_tail());
    }
    server.stop().await;
    result
}

#[derive(Default)]
struct Tally {
    open: AtomicUsize,
    held: AtomicUsize,
    early: AtomicUsize,
    errors: AtomicUsize,
    first_error: Mutex<Option<String>>,
}

async fn measure(
    server: &Server,
    settings: &Settings,
    protocol: Protocol,
    polls: usize,
) -> Result<Figures, Error> {
    let kind = server.kind;
    let setup = Api::with_sources(&server.base, SOURCES)?;
    let api = match protocol {
        Protocol::Http1 => setup.clone(),
        Protocol::Http2 => Api::http2(&server.base, polls.div_ceil(H2_STREAMS_PER_CONNECTION))?,
    };
    progress("parked", kind, &format!("creating {} users", polls + 2));
    let users = setup.guests(polls + 2, 32).await?;
    let (probe, idle) = users.split_at(2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before_kib = server.rss_kib()?;

    // Every poll asks to park until well after the last one is opened.
    let ramp = Duration::from_secs_f64(polls as f64 / RAMP_PER_S as f64);
    let settle = Duration::from_secs_f64(1.0 + polls as f64 / 10_000.0);
    let timeout = ramp + settle + settings.hold_for;
    progress(
        "parked",
        kind,
        &format!(
            "opening {} polls over {ramp:?}, each parked for {timeout:?}",
            idle.len()
        ),
    );
    let tally = Arc::new(Tally::default());
    let mut polls = JoinSet::new();
    let start = Instant::now();
    let batch = (RAMP_PER_S / 20).max(1);
    for (n, user) in idle.iter().cloned().enumerate() {
        polls.spawn(park(api.clone(), n, user, timeout, tally.clone()));
        if n % batch == batch - 1 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let ramp_s = start.elapsed().as_secs_f64();

    // Sample the memory while the polls are parked; the first ones answer at start + timeout.
    let mut rss_peak_kib = rss_before_kib;
    let mut probe_ms = None;
    let sample_until = start + timeout - Duration::from_millis(500);
    while Instant::now() < sample_until {
        rss_peak_kib = rss_peak_kib.max(server.rss_kib()?);
        if probe_ms.is_none() && start.elapsed() > ramp + settle / 2 {
            probe_ms = probe_round_trip(&server.base, &probe[0], &probe[1]).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = tokio::time::timeout(timeout + Duration::from_secs(20), async {
        while polls.join_next().await.is_some() {}
    })
    .await;
    polls.abort_all();

    let held = tally.held.load(Ordering::Relaxed);
    let grown = rss_peak_kib.saturating_sub(rss_before_kib) as f64 * 1024.0;
    let first_error = tally
        .first_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Ok(Figures {
        opened: idle.len(),
        held,
        answered_early: tally.early.load(Ordering::Relaxed),
        errors: tally.errors.load(Ordering::Relaxed),
        ramp_s: round2(ramp_s),
        rss_before_kib,
        rss_peak_kib,
        rss_per_poll_bytes: if held > 0 {
            round2(grown / held as f64)
        } else {
            0.0
        },
        probe_ms,
        first_error,
    })
}

/// One idle poll; counts it as held when it is answered empty at its timeout.
async fn park(api: Api, n: usize, user: User, timeout: Duration, tally: Arc<Tally>) {
    tally.open.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let result = api.poll(n, &user, Cursor(0), timeout).await;
    tally.open.fetch_sub(1, Ordering::Relaxed);
    match result {
        Ok(batch) if batch.events.is_empty() && started.elapsed() >= timeout.mul_f64(0.95) => {
            tally.held.fetch_add(1, Ordering::Relaxed);
        }
        Ok(_) => {
            tally.early.fetch_add(1, Ordering::Relaxed);
        }
        Err(error) => {
            tally.errors.fetch_add(1, Ordering::Relaxed);
            let mut first = tally.first_error.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert_with(|| error.to_string());
        }
    }
}

/// Sends one message from `a` to `b` and reads it from `b`'s stream; the time it took, or
/// `None` when it failed.
async fn probe_round_trip(base: &str, a: &User, b: &User) -> Option<f64> {
    let api = Api::new(base).ok()?;
    let started = Instant::now();
    api.send(a, b.uid, "probe".into(), "probe".into())
        .await
        .ok()?;
    let batch = api
        .poll(0, b, Cursor(0), Duration::from_secs(5))
        .await
        .ok()?;
    let arrived = batch
        .events
        .iter()
        .any(|e| matches!(e, Event::Message { message } if message.sender == a.uid));
    arrived.then(|| millis(started.elapsed()))
}
