//! Several `courier` processes on one PostgreSQL: wake-ups cross nodes, and a node killed with
//! SIGKILL in the middle of sends loses nothing and duplicates nothing. Skipped without
//! `TEST_DATABASE_URL`.

use crate::helpers::{Guest, TestDatabase, postgres_url};
use crate::process::{Process, guest, start_with};
use futures::future::join_all;
use serde_json::json;
use shared::{Cursor, Event, Message, SendAck};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn on(guest: &Guest, base: &str) -> Guest {
    let mut moved = guest.clone();
    moved.base = base.to_owned();
    moved
}

/// Two `courier` processes on one fresh PostgreSQL database; `None` without TEST_DATABASE_URL.
struct Cluster {
    nodes: [Process; 2],
    _dirs: [tempfile::TempDir; 2],
    _db: TestDatabase,
}

impl Cluster {
    async fn start() -> Option<Self> {
        Self::start_with(&[]).await
    }

    /// Starts both nodes with extra command-line options.
    async fn start_with(extra: &[&str]) -> Option<Self> {
        postgres_url()?;
        let db = TestDatabase::create().await;
        let dirs = [
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
        ];
        let nodes = [
            start_with(dirs[0].path(), Some(&db.url), extra),
            start_with(dirs[1].path(), Some(&db.url), extra),
        ];
        Some(Cluster {
            nodes,
            _dirs: dirs,
            _db: db,
        })
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::test]
async fn a_send_on_one_node_wakes_a_poll_parked_on_another() {
    let Some(cluster) = Cluster::start().await else {
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return;
    };
    let (node1, node2) = (&cluster.nodes[0], &cluster.nodes[1]);
    let a = guest(&node1.base).await;
    let b = on(&guest(&node1.base).await, &node2.base);

    let mut cursor = Cursor(0);
    let mut latencies = Vec::new();
    for i in 0..60 {
        let poller = {
            let b = b.clone();
            tokio::spawn(async move {
                let batch = b.poll(cursor, 10.0).await;
                (batch, Instant::now())
            })
        };
        tokio::time::sleep(Duration::from_millis(30)).await;
        let ack = a.send(b.uid, &format!("x{i}"), &format!("cross {i}")).await;
        let acked = Instant::now();
        let (batch, returned) = poller.await.expect("poll task");
        let Some(Event::Message { message }) = batch.events.first() else {
            panic!("round {i}: no message, got {batch:?}");
        };
        assert_eq!(message.msg_id, ack.msg_id);
        let latency = returned.saturating_duration_since(acked);
        assert!(
            latency < Duration::from_secs(5),
            "round {i} waited for the poll timeout"
        );
        latencies.push(latency);
        cursor = batch.cursor;
    }
    latencies.sort_unstable();
    eprintln!(
        "cross-node delivery (ack on node 1 -> poll on node 2 returns): p50 {:?}, p99 {:?}, max {:?} over {} sends",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1],
        latencies.len()
    );
}

/// Sends on the first node that answers, retrying with the same client_msg_id on the next one
/// when a node is gone, as a client behind a load balancer would.
async fn send_with_failover(sender: &Guest, nodes: &[String], to: i64, id: &str) -> SendAck {
    send_to_with_failover(sender, nodes, json!({"user": to}), id).await
}

/// Like [`send_with_failover`], to any target (`{"user": N}` or `{"group": N}`).
async fn send_to_with_failover(
    sender: &Guest,
    nodes: &[String],
    to: serde_json::Value,
    id: &str,
) -> SendAck {
    let body = json!({"to": to, "client_msg_id": id, "msg_type": "text", "content": id});
    for _attempt in 0..50 {
        for base in nodes {
            let response = sender
                .http
                .post(format!("{base}/api/messages"))
                .bearer_auth(&sender.token)
                .json(&body)
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            match response {
                Ok(r) if r.status().is_success() => return r.json().await.expect("ack body"),
                Ok(r) if r.status().is_client_error() => {
                    panic!("send {id} refused: {}", r.status())
                }
                _ => continue,
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("send {id} never acknowledged");
}

#[tokio::test]
async fn killing_a_node_in_the_middle_of_sends_loses_and_duplicates_nothing() {
    let Some(cluster) = Cluster::start().await else {
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return;
    };
    let (node1, node2) = (&cluster.nodes[0], &cluster.nodes[1]);
    let node1_pid = node1.child.id();
    let a = guest(&node1.base).await;
    let b = on(&guest(&node1.base).await, &node2.base);

    const SENDERS: usize = 4;
    const EACH: usize = 40;
    let acked = Arc::new(AtomicUsize::new(0));
    let nodes = vec![node1.base.clone(), node2.base.clone()];
    let killer = {
        let acked = acked.clone();
        tokio::spawn(async move {
            while acked.load(Ordering::SeqCst) < SENDERS * EACH / 3 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let status = std::process::Command::new("kill")
                .args(["-9", &node1_pid.to_string()])
                .status()
                .expect("kill runs");
            assert!(status.success());
        })
    };
    let sends = (0..SENDERS).map(|s| {
        let (a, nodes, acked, to) = (a.clone(), nodes.clone(), acked.clone(), b.uid.0);
        tokio::spawn(async move {
            let mut acks = Vec::new();
            for i in 0..EACH {
                let ack = send_with_failover(&a, &nodes, to, &format!("s{s}-{i}")).await;
                acked.fetch_add(1, Ordering::SeqCst);
                acks.push(ack);
            }
            acks
        })
    });
    let acks: Vec<SendAck> = join_all(sends)
        .await
        .into_iter()
        .flat_map(|r| r.expect("sender task"))
        .collect();
    killer.await.expect("node 1 was killed mid-way");
    assert_eq!(acks.len(), SENDERS * EACH);

    // B, on the surviving node, reads the whole stream from the start.
    let messages = b.whole_stream().await;
    let received = by_client_msg_id(&messages);
    let seqs: Vec<i64> = messages.iter().map(|m| m.seq.0).collect();
    let msg_ids: Vec<i64> = messages.iter().map(|m| m.msg_id.0).collect();
    assert_eq!(
        received.len(),
        SENDERS * EACH,
        "every acknowledged message arrived"
    );
    assert!(received.values().all(|s| s.len() == 1), "and exactly once");
    let received_ids: std::collections::BTreeSet<i64> = msg_ids.into_iter().collect();
    for ack in &acks {
        assert!(
            received_ids.contains(&ack.msg_id.0),
            "ack {ack:?} was delivered"
        );
    }
    assert_eq!(
        seqs,
        (1..=(SENDERS * EACH) as i64).collect::<Vec<_>>(),
        "gapless, in order"
    );
}

/// client_msg_id -> the seqs it arrived with (one, when nothing was duplicated).
fn by_client_msg_id(messages: &[Message]) -> BTreeMap<String, Vec<i64>> {
    let mut received: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for message in messages {
        received
            .entry(message.client_msg_id.0.clone())
            .or_default()
            .push(message.seq.0);
    }
    received
}

#[tokio::test]
async fn killing_a_node_in_the_middle_of_group_sends_delivers_every_ack_once_to_every_member() {
    let Some(cluster) = Cluster::start().await else {
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return;
    };
    let (node1, node2) = (&cluster.nodes[0], &cluster.nodes[1]);
    let node1_pid = node1.child.id();
    // a and c live on node 1 (which dies), b on node 2.
    let a = guest(&node1.base).await;
    let c = guest(&node1.base).await;
    let b = on(&guest(&node1.base).await, &node2.base);
    let group: serde_json::Value = crate::helpers::ok_json(
        a.post_json(
            "/api/groups",
            json!({"gname": "crew", "join_policy": "open"}),
        )
        .await,
    )
    .await;
    let gid = group["gid"].as_i64().expect("gid");
    for member in [&b, &c] {
        let _: serde_json::Value = crate::helpers::ok_json(
            member
                .post_json(&format!("/api/groups/{gid}/join"), json!({}))
                .await,
        )
        .await;
    }
    // One-to-one across nodes too: b answers a.
    b.send(a.uid, "direct-1", "hi from node 2").await;

    const EACH: usize = 30;
    let acked = Arc::new(AtomicUsize::new(0));
    let nodes = vec![node1.base.clone(), node2.base.clone()];
    let killer = {
        let acked = acked.clone();
        tokio::spawn(async move {
            while acked.load(Ordering::SeqCst) < 3 * EACH / 3 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let status = std::process::Command::new("kill")
                .args(["-9", &node1_pid.to_string()])
                .status()
                .expect("kill runs");
            assert!(status.success());
        })
    };
    let sends = [&a, &b, &c].into_iter().enumerate().map(|(s, sender)| {
        let (sender, nodes, acked) = (sender.clone(), nodes.clone(), acked.clone());
        tokio::spawn(async move {
            let mut acks = Vec::new();
            for i in 0..EACH {
                let id = format!("g{s}-{i}");
                let ack = send_to_with_failover(&sender, &nodes, json!({"group": gid}), &id).await;
                acked.fetch_add(1, Ordering::SeqCst);
                acks.push(ack);
            }
            acks
        })
    });
    let acks: Vec<SendAck> = join_all(sends)
        .await
        .into_iter()
        .flat_map(|r| r.expect("sender task"))
        .collect();
    killer.await.expect("node 1 was killed mid-way");
    assert_eq!(acks.len(), 3 * EACH);

    // Every member, now on node 2, reads their whole stream.
    for member in [&a, &b, &c] {
        let member = on(member, &node2.base);
        let received = by_client_msg_id(&member.whole_stream().await);
        let group_msgs: BTreeMap<_, _> = received
            .iter()
            .filter(|(id, _)| id.starts_with('g'))
            .collect();
        assert_eq!(
            group_msgs.len(),
            3 * EACH,
            "uid {}: every ack arrived",
            member.uid
        );
        assert!(
            group_msgs.values().all(|s| s.len() == 1),
            "uid {}: exactly once",
            member.uid
        );
        let mut seqs: Vec<i64> = group_msgs.values().map(|s| s[0]).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=(3 * EACH) as i64).collect::<Vec<_>>(), "gapless");
        if member.uid != c.uid {
            assert!(
                received.contains_key("direct-1"),
                "the one-to-one message too"
            );
        }
    }
}

#[tokio::test]
async fn a_friend_on_another_node_sees_presence_and_a_dead_node_takes_its_users_offline() {
    let Some(cluster) =
        Cluster::start_with(&["--presence-grace", "1s", "--node-timeout", "3s"]).await
    else {
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return;
    };
    let (node1, node2) = (&cluster.nodes[0], &cluster.nodes[1]);
    let a = guest(&node1.base).await;
    let b = on(&guest(&node1.base).await, &node2.base);
    // Friends (b accepts a's request) and typing across nodes.
    let outcome: serde_json::Value = crate::helpers::ok_json(
        a.post_json("/api/friends/requests", json!({"to": b.uid}))
            .await,
    )
    .await;
    let id = outcome["request"]["id"].as_i64().expect("request id");
    let _: serde_json::Value = crate::helpers::ok_json(
        b.post(&format!("/api/friends/requests/{id}/accept"))
            .send()
            .await
            .expect("request"),
    )
    .await;
    let mut cursor = b.me().await.cursor;

    // a polls on node 1 (in the background, so a stays online), b hears of it on node 2.
    let a_polling = {
        let a = a.clone();
        tokio::spawn(async move {
            let mut after = a.me().await.cursor;
            loop {
                let response = a
                    .get(&format!("/api/events?after={}&timeout=1", after.0))
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => {
                        let batch: shared::EventBatch = r.json().await.expect("batch");
                        after = batch.cursor;
                    }
                    _ => return,
                }
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let saw = |events: &[Event], online: bool| {
        events.iter().any(
            |e| matches!(e, Event::Presence { uid, online: o } if *uid == a.uid && *o == online),
        )
    };
    let mut online_seen = false;
    while Instant::now() < deadline && !online_seen {
        let batch = b.poll(cursor, 1.0).await;
        cursor = batch.cursor;
        online_seen = saw(&batch.events, true);
    }
    assert!(
        online_seen,
        "b (node 2) is told that a (node 1) came online"
    );

    // Node 1 dies while a's poll is parked there: node 2 reaps it and tells b.
    let status = std::process::Command::new("kill")
        .args(["-9", &node1.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut offline_seen = false;
    while Instant::now() < deadline && !offline_seen {
        let batch = b.poll(cursor, 1.0).await;
        cursor = batch.cursor;
        offline_seen = saw(&batch.events, false);
    }
    assert!(
        offline_seen,
        "a dead node's users go offline for their friends"
    );
    a_polling.abort();
}
