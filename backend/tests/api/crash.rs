//! The real binary, killed with SIGKILL: acknowledged messages survive.

use crate::helpers::{Guest, client, contents};
use shared::{Cursor, GuestSession};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

struct Process {
    child: Child,
    base: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &Path, database_url: Option<&str>) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_courier"));
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    let mut child = command
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(["--static-dir"])
        .arg(data_dir.join("no-static"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("courier starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let base = line
        .trim()
        .strip_prefix("Courier is running at ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    Process { child, base }
}

async fn guest(base: &str) -> Guest {
    let http = client();
    let session: GuestSession = http
        .post(format!("{base}/api/session/guest"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("body");
    Guest {
        base: base.to_owned(),
        http,
        uid: session.uid,
        token: session.token,
    }
}

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
