//! The real binary, killed with SIGKILL: acknowledged messages survive.

use crate::helpers::contents;
use crate::process::{guest, start};
use shared::Cursor;

/// Where a server that is killed and restarted keeps its data: a directory and, on
/// PostgreSQL, a database of its own.
struct Site {
    dir: tempfile::TempDir,
    database: Option<crate::helpers::TestDatabase>,
}

impl Site {
    async fn new() -> Self {
        let database = match crate::helpers::current_store() {
            crate::helpers::StoreKind::Sqlite => None,
            crate::helpers::StoreKind::Postgres => {
                Some(crate::helpers::TestDatabase::create().await)
            }
        };
        let dir = tempfile::tempdir().expect("temp dir");
        Self { dir, database }
    }

    fn start(&self) -> crate::process::Process {
        start(
            self.dir.path(),
            self.database.as_ref().map(|db| db.url.as_str()),
        )
    }
}

store_test! {
async fn acknowledged_messages_survive_a_kill_9_and_restart() {
    let site = Site::new().await;
    let mut server = site.start();
    let a = guest(&server.base).await;
    let mut b = guest(&server.base).await;
    for i in 1..=20 {
        a.send(b.uid, &format!("{i}"), &format!("durable {i}"))
            .await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");

    let restarted = site.start();
    b.base = restarted.base.clone();
    let batch = b.poll(Cursor(0), 0.0).await;
    let expected: Vec<String> = (1..=20).map(|i| format!("durable {i}")).collect();
    assert_eq!(contents(&batch), expected);
    // A retry after the crash is still recognised as the same message.
    let mut a = a;
    a.base = restarted.base.clone();
    let retry = a.send(b.uid, "20", "durable 20").await;
    assert_eq!(retry.seq.0, 20);
}
}

store_test! {
/// Many senders at once, so the kill lands while batches are being written: every
/// acknowledged message is there after the restart, each conversation's seqs without a gap,
/// and nothing is there twice.
async fn a_kill_9_during_concurrent_sends_keeps_every_acknowledged_message() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const PAIRS: usize = 24;
    let site = Site::new().await;
    let mut server = site.start();
    let mut pairs = Vec::new();
    for _ in 0..PAIRS {
        pairs.push((guest(&server.base).await, guest(&server.base).await));
    }
    let acked_total = Arc::new(AtomicUsize::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for (n, (a, b)) in pairs.iter().enumerate() {
        let (a, to, acked_total) = (a.clone(), b.uid, acked_total.clone());
        senders.spawn(async move {
            // The contents acknowledged, in order; the loop ends when the server is gone.
            let mut acked = Vec::new();
            for i in 1.. {
                let content = format!("pair {n} message {i}");
                let sent = a
                    .post("/api/messages")
                    .json(&serde_json::json!({
                        "to": {"user": to},
                        "client_msg_id": format!("{n}-{i}"),
                        "msg_type": "text",
                        "content": content,
                    }))
                    .send()
                    .await;
                match sent {
                    Ok(response) => {
                        // A live server answers every send with its ack; after the kill there
                        // is no answer at all.
                        assert!(
                            response.status().is_success(),
                            "pair {n}: send {i} answered {}",
                            response.status()
                        );
                        acked.push(content);
                        acked_total.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => break,
                }
            }
            (n, acked)
        });
    }
    // Kill while every sender has a send in flight (senders that stopped early fail the test
    // at `join_next` below; the deadline keeps it from waiting for them forever).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while acked_total.load(Ordering::Relaxed) < 40 * PAIRS {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} sends acknowledged in 60 s",
            acked_total.load(Ordering::Relaxed)
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");
    let mut acked = vec![Vec::new(); PAIRS];
    while let Some(joined) = senders.join_next().await {
        let (n, contents) = joined.expect("sender task");
        acked[n] = contents;
    }

    let restarted = site.start();
    for (n, (_, b)) in pairs.iter_mut().enumerate() {
        b.base = restarted.base.clone();
        let messages = b.whole_stream().await;
        let stored: Vec<&str> = messages.iter().map(|m| m.content.as_str()).collect();
        // What was acknowledged is there, first and in order; at most the one send in flight
        // at the kill (stored, not yet acknowledged) follows it.
        assert!(
            stored.len() == acked[n].len() || stored.len() == acked[n].len() + 1,
            "pair {n}: {} stored, {} acknowledged",
            stored.len(),
            acked[n].len()
        );
        assert_eq!(stored[..acked[n].len()], acked[n][..], "pair {n}");
        let seqs: Vec<i64> = messages.iter().map(|m| m.seq.0).collect();
        let gapless: Vec<i64> = (1..=seqs.len() as i64).collect();
        assert_eq!(seqs, gapless, "pair {n}");
    }
}
}
