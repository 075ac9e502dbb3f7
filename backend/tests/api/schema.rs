//! migrations/sqlite and migrations/postgres evolve together: same tables, same columns.

use crate::helpers::{TestDatabase, postgres_url};
use backend::store::Store;
use sqlx::Connection;
use std::collections::BTreeSet;

type Columns = BTreeSet<(String, String)>;

async fn sqlite_columns() -> Columns {
    let dir = tempfile::tempdir().expect("dir");
    let url = Store::sqlite_url(dir.path());
    Store::open(&url, 1, "schema-test")
        .await
        .expect("migrates")
        .close()
        .await;
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("connect");
    sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("columns")
    .into_iter()
    .collect()
}

async fn postgres_columns(db: &TestDatabase) -> Columns {
    Store::open(&db.url, 1, "schema-test")
        .await
        .expect("migrates")
        .close()
        .await;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("columns")
    .into_iter()
    .collect()
}

#[tokio::test]
async fn both_stores_migrate_to_the_same_tables_and_columns() {
    let sqlite = sqlite_columns().await;
    assert!(sqlite.contains(&("messages".into(), "client_msg_id".into())));
    if postgres_url().is_none() {
        eprintln!("skipped the PostgreSQL half: TEST_DATABASE_URL is not set");
        return;
    }
    let db = TestDatabase::create().await;
    let postgres = postgres_columns(&db).await;
    let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "schemas differ: only in SQLite {only_sqlite:?}, only in PostgreSQL {only_postgres:?}"
    );
}
