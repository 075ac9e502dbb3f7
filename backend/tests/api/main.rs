//! Integration tests: real HTTP against the real server with a real database. Each test starts
//! its own server on 127.0.0.1:0 with a fresh SQLite file.

/// Defines a test that runs on both stores: `NAME::sqlite` always, and `NAME::postgres` on a fresh
/// database when `TEST_DATABASE_URL` is set (otherwise it says it was skipped).
macro_rules! store_test {
    ($(#[$meta:meta])* async fn $name:ident() $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body() $body

            #[tokio::test]
            async fn sqlite() {
                crate::helpers::STORE
                    .scope(crate::helpers::StoreKind::Sqlite, body())
                    .await;
            }

            #[tokio::test]
            async fn postgres() {
                if crate::helpers::postgres_url().is_none() {
                    eprintln!("skipped: TEST_DATABASE_URL is not set");
                    return;
                }
                crate::helpers::STORE
                    .scope(crate::helpers::StoreKind::Postgres, body())
                    .await;
            }
        }
    };
}

mod bad_input;
mod contacts;
mod crash;
mod files;
mod group_commit;
mod groups;
mod helpers;
mod lists;
mod messaging;
mod multinode;
mod presence;
mod process;
mod schema;
mod session;
mod stream;
mod widget;
