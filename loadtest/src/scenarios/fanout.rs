//! Scenario 4: group fan-out. M members of one group each keep a poll parked; one member sends
//! one message to the group; the time from the send's acknowledgment until each member's poll
//! returned it (the last one is the figure). Every member must get it exactly once.

use super::{Settings, Stop, as_json, emit, progress};
use crate::client::{Api, User};
use crate::error::Error;
use crate::server::{Kind, Server};
use crate::stats::{self, Summary};
use futures::StreamExt;
use serde::Serialize;
use serde_json::json;
use shared::{Cursor, Event, Target};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// What members ask for; above any run, under Courier's cap.
const POLL_TIMEOUT: Duration = Duration::from_secs(25);
/// How long after the ack members may still receive the message.
const DRAIN: Duration = Duration::from_secs(15);
/// Source addresses the members' connections are spread over.
const SOURCES: u8 = 4;

/// One group size's figures on one server.
#[derive(Debug, Serialize)]
pub struct Figures {
    pub members: usize,
    pub polls_parked: usize,
    pub received: usize,
    pub lost: usize,
    pub duplicated: usize,
    /// From the send's acknowledgment to each member's poll returning the message.
    pub delivery: Summary,
    /// From the ack to the last member's delivery.
    pub last_ms: f64,
    /// From starting the send to the last member's delivery (the send's own commit included).
    pub last_from_send_ms: f64,
    /// From starting the send to its acknowledgment.
    pub send_ms: f64,
}

pub async fn run(settings: &Settings) -> bool {
    let mut ok = true;
    for &members in &settings.fanout {
        let courier = measure_on(Kind::Courier, settings, members).await;
        let baseline = measure_on(Kind::Baseline, settings, members).await;
        let clean = |r: &Result<Figures, Error>| {
            r.as_ref()
                .is_ok_and(|f| f.lost == 0 && f.duplicated == 0 && f.received == f.members)
        };
        ok &= clean(&courier) && clean(&baseline);
        let mut line = json!({
            "scenario": "fanout",
            "members": members,
            "courier": as_json(&courier),
            "baseline": as_json(&baseline),
            "no_loss_no_duplicates": clean(&courier) && clean(&baseline),
        });
        if let (Ok(c), Ok(b)) = (&courier, &baseline) {
            line["ratio"] = json!({
                "last": stats::ratio(c.last_ms, b.last_ms),
                "last_from_send": stats::ratio(c.last_from_send_ms, b.last_from_send_ms),
            });
            if members >= 5_000 {
                line["targets"] = json!({
                    "last_from_send_le_1s": c.last_from_send_ms <= 1_000.0,
                    "last_from_ack_le_1s": c.last_ms <= 1_000.0,
                });
            }
        }
        emit(line);
    }
    ok
}

async fn measure_on(kind: Kind, settings: &Settings, members: usize) -> Result<Figures, Error> {
    let server = Server::start(kind, &settings.servers).await?;
    let result = measure(&server, members).await;
    if result.is_err() {
        eprintln!("[fanout/{}] server log: {}", kind.name(), server.log_tail());
    }
    server.stop().await;
    result
}

/// When each member's poll returned the message, and how many copies it held.
type Deliveries = Arc<Mutex<Vec<(Instant, usize)>>>;

async fn measure(server: &Server, members: usize) -> Result<Figures, Error> {
    let kind = server.kind;
    let api = Api::with_sources(&server.base, SOURCES)?;
    progress("fanout", kind, &format!("creating {members} members"));
    let users = api.guests(members, 32).await?;
    let sender = users[0].clone();
    let gid = api.create_group(&sender, "fan-out").await?;
    let joins: Vec<Result<(), Error>> = futures::stream::iter(users[1..].iter())
        .map(|user| api.join_group(user, gid))
        .buffer_unordered(32)
        .collect()
        .await;
    joins.into_iter().collect::<Result<Vec<()>, Error>>()?;

    progress("fanout", kind, &format!("parking {members} polls"));
    // Each member first reads what joining put in their stream, then parks.
    let cursors: Vec<Result<Cursor, Error>> = futures::stream::iter(users.iter().enumerate())
        .map(|(n, user)| head(&api, n, user))
        .buffered(32)
        .collect()
        .await;
    let deliveries: Deliveries = Arc::default();
    let (stop_all, stop) = Stop::new();
    let mut polls = JoinSet::new();
    let id = format!("fanout-{members}");
    for (n, (user, cursor)) in users.iter().zip(cursors).enumerate() {
        polls.spawn(member(
            api.clone(),
            n,
            user.clone(),
            cursor?,
            id.clone(),
            stop.clone(),
            deliveries.clone(),
        ));
    }
    tokio::time::sleep(Duration::from_millis(1_000 + members as u64 / 5)).await;
    let polls_parked = polls.len();

    progress("fanout", kind, "sending one group message");
    let started = Instant::now();
    api.send_to(&sender, Target::Group(gid), id.clone(), "hello all".into())
        .await?;
    let acked = Instant::now();
    let drain_until = acked + DRAIN;
    while Instant::now() < drain_until && !polls.is_empty() {
        let _ = tokio::time::timeout(Duration::from_millis(100), polls.join_next()).await;
    }
    let _ = stop_all.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while polls.join_next().await.is_some() {}
    })
    .await;
    polls.abort_all();

    let deliveries = std::mem::take(&mut *deliveries.lock().unwrap_or_else(|p| p.into_inner()));
    let mut latencies: Vec<Duration> = deliveries
        .iter()
        .map(|(at, _)| at.saturating_duration_since(acked))
        .collect();
    let duplicated = deliveries.iter().map(|(_, n)| n.saturating_sub(1)).sum();
    let last_from_send = deliveries
        .iter()
        .map(|(at, _)| at.saturating_duration_since(started))
        .max()
        .unwrap_or_default();
    let delivery = Summary::of(&mut latencies);
    Ok(Figures {
        members,
        polls_parked,
        received: deliveries.len(),
        lost: members - deliveries.len(),
        duplicated,
        last_ms: delivery.max_ms,
        last_from_send_ms: stats::millis(last_from_send),
        delivery,
        send_ms: stats::millis(acked - started),
    })
}

/// Reads the user's stream to its head.
async fn head(api: &Api, n: usize, user: &User) -> Result<Cursor, Error> {
    let mut after = Cursor(0);
    loop {
        let batch = api.poll(n, user, after, Duration::ZERO).await?;
        if batch.events.is_empty() {
            return Ok(batch.cursor);
        }
        after = batch.cursor;
    }
}

/// One member: polls until the message with client_msg_id `id` arrived (or the stop).
async fn member(
    api: Api,
    n: usize,
    user: User,
    mut after: Cursor,
    id: String,
    mut stop: Stop,
    deliveries: Deliveries,
) {
    loop {
        let result = tokio::select! {
            _ = stop.stopped() => return,
            result = api.poll(n, &user, after, POLL_TIMEOUT) => result,
        };
        let Ok(batch) = result else {
            tokio::select! {
                _ = stop.stopped() => return,
                _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
            }
        };
        let copies = batch
            .events
            .iter()
            .filter(|e| matches!(e, Event::Message { message } if message.client_msg_id.0 == id))
            .count();
        if copies > 0 {
            deliveries
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((Instant::now(), copies));
            return;
        }
        after = batch.cursor;
    }
}
