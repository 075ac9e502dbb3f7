//! The real binary, killed with SIGKILL: acknowledged messages survive.

use crate::helpers::contents;
use crate::process::{guest, start};
use shared::Cursor;

store_test! {
async fn acknowledged_messages_survive_a_kill_9_and_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = match crate::helpers::current_store() {
        crate::helpers::StoreKind::Sqlite => None,
        crate::helpers::StoreKind::Postgres => Some(crate::helpers::TestDatabase::create().await),
    };
    let url = database.as_ref().map(|db| db.url.as_str());
    let mut server = start(dir.path(), url);
    let a = guest(&server.base).await;
    let mut b = guest(&server.base).await;
    for i in 1..=20 {
        a.send(b.uid, &format!("{i}"), &format!("durable {i}"))
            .await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");

    let restarted = start(dir.path(), url);
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
