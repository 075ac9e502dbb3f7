//! Several `courier` processes on one PostgreSQL: wake-ups cross nodes, and a node killed with
//! SIGKILL in the middle of sends loses nothing and duplicates nothing. Skipped without
//! `TEST_DATABASE_URL`.

use crate::helpers::{Guest, TestDatabase, postgres_url};
use crate::process::{Process, guest, start};
use futures::future::join_all;
use serde_json::json;
use shared::{Cursor, Event, SendAck};
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
        postgres_url()?;
        let db = TestDatabase::create().await;
        let dirs = [
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
        ];
        let nodes = [
            start(dirs[0].path(), Some(&db.url)),
            start(dirs[1].path(), Some(&db.url)),
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
    let body = json!({"to": {"user": to}, "client_msg_id": id, "msg_type": "text", "content": id});
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
    let mut cursor = Cursor(0);
    let mut received: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut seqs = Vec::new();
    let mut msg_ids = Vec::new();
    loop {
        let batch = b.poll(cursor, 0.0).await;
        if batch.events.is_empty() {
            break;
        }
        cursor = batch.cursor;
        for event in batch.events {
            if let Event::Message { message } = event {
                received
                    .entry(message.client_msg_id.0.clone())
                    .or_default()
                    .push(message.seq.0);
                seqs.push(message.seq.0);
                msg_ids.push(message.msg_id.0);
            }
        }
    }
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
