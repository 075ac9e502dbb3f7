//! Users that embedding sites sign in with their own ids (`site_identities`): one uid per site
//! and site user id, on every device.

use super::{Store, StoreError};
use shared::{Millis, UserId};
use sqlx::Row;

/// How many times a sign-in starts over after losing a race for a new site user. One retry
/// always suffices (the winner has committed when the loser's insert gives way); the bound only
/// keeps a broken database from looping.
const SIGN_IN_ATTEMPTS: usize = 3;

/// A site user, signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteSignIn {
    pub uid: UserId,
    /// The user's nick now (not changed by the sign-in when the user already existed).
    pub nick_name: String,
    /// The user was created by this sign-in.
    pub created: bool,
}

/// A new site user's profile, used only when the sign-in creates the user.
#[derive(Clone, Debug)]
pub struct NewSiteUser<'a> {
    pub nick_name: &'a str,
    pub friend_code: &'a str,
}

impl Store {
    /// Signs in the user `external_id` of `site` with a new session (`token_hash`), creating
    /// the user (kind `site_user`) on first sight, all in one transaction. Concurrent first
    /// sign-ins of one site user agree on one uid: the primary key of `site_identities` lets
    /// one insert win; the others give way (PostgreSQL makes them wait for the winner's
    /// commit), roll back their user and find the winner's.
    pub async fn sign_in_site_user(
        &self,
        site: &str,
        external_id: &str,
        new_user: NewSiteUser<'_>,
        token_hash: &str,
        now: Millis,
    ) -> Result<SiteSignIn, StoreError> {
        for _ in 0..SIGN_IN_ATTEMPTS {
            let mut tx = self.writer.begin().await?;
            let existing = sqlx::query(
                "SELECT s.uid, u.nick_name FROM site_identities s \
                 JOIN users u ON u.uid = s.uid WHERE s.site = $1 AND s.external_id = $2",
            )
            .bind(site)
            .bind(external_id)
            .fetch_optional(&mut *tx)
            .await?;
            let signed_in = match existing {
                Some(row) => SiteSignIn {
                    uid: UserId(row.try_get("uid")?),
                    nick_name: row.try_get("nick_name")?,
                    created: false,
                },
                None => {
                    let uid: i64 = sqlx::query_scalar(
                        "INSERT INTO users (nick_name, kind, created_at, profile_time, \
                         friend_code) VALUES ($1, 'site_user', $2, $2, $3) RETURNING uid",
                    )
                    .bind(new_user.nick_name)
                    .bind(now)
                    .bind(new_user.friend_code)
                    .fetch_one(&mut *tx)
                    .await?;
                    let inserted = sqlx::query(
                        "INSERT INTO site_identities (site, external_id, uid, created_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (site, external_id) DO NOTHING",
                    )
                    .bind(site)
                    .bind(external_id)
                    .bind(uid)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if inserted == 0 {
                        // Another sign-in created this site user first: use theirs.
                        tx.rollback().await?;
                        continue;
                    }
                    SiteSignIn {
                        uid: UserId(uid),
                        nick_name: new_user.nick_name.to_owned(),
                        created: true,
                    }
                }
            };
            sqlx::query(
                "INSERT INTO sessions (token_hash, uid, created_at, last_seen) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(signed_in.uid.0)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(signed_in);
        }
        Err(StoreError::Corrupt(format!(
            "site user of {site} neither found nor created"
        )))
    }
}
