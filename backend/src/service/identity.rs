//! Sites signing their own users in (`POST /api/session/identify`): a verified identity token
//! gives the site user one uid on every device, and a new session for it.

use super::session::{hash_token, new_friend_code, new_token};
use super::{AppState, ServiceError, now_millis};
use crate::domain::guest_nick;
use crate::domain::identity::{IdentityError, verify_token};
use crate::store::contacts::{ProfileChange, ProfileUpdate};
use crate::store::identity::NewSiteUser;
use shared::{ErrorCode, GuestSession};

impl From<IdentityError> for ServiceError {
    fn from(e: IdentityError) -> Self {
        let code = match e {
            IdentityError::Invalid(_) => ErrorCode::IdentityInvalid,
            IdentityError::Expired => ErrorCode::IdentityExpired,
        };
        ServiceError::refused(code, e.to_string())
    }
}

/// Checks a site's identity token and signs its user in: the uid of that site user (created
/// on first sight), and a new session. A `name` in the token that differs from the user's nick
/// becomes the nick (a profile change like `PATCH /api/me`). A refused token writes nothing.
pub async fn identify(state: &AppState, token: &str) -> Result<GuestSession, ServiceError> {
    let now = now_millis();
    let identity = verify_token(token, &state.config.site_keys, now.div_euclid(1000))?;
    let session_token = new_token();
    let generated = guest_nick(rand::random());
    let friend_code = new_friend_code();
    let new_user = NewSiteUser {
        nick_name: identity.name.as_deref().unwrap_or(&generated),
        friend_code: &friend_code,
    };
    let signed_in = state
        .store
        .sign_in_site_user(
            &identity.site,
            &identity.external_id,
            new_user,
            &hash_token(&session_token),
            now,
        )
        .await?;
    let uid = signed_in.uid;
    let mut nick_name = signed_in.nick_name;
    if let Some(name) = identity.name
        && name != nick_name
    {
        let change = ProfileChange {
            nick_name: Some(name.clone()),
            ..ProfileChange::default()
        };
        match state.store.update_profile(uid, &change, now).await? {
            ProfileUpdate::Changed { wake, .. } => state.notifier.wake(&wake),
            ProfileUpdate::Unchanged => {}
            ProfileUpdate::UnknownUser => return Err(ServiceError::UnknownUser(uid)),
        }
        nick_name = name;
    }
    // The site's user id and the token stay out of the logs.
    tracing::info!(uid = %uid, site = %identity.site, created = signed_in.created, "site user signed in");
    Ok(GuestSession {
        uid,
        token: session_token,
        nick_name,
    })
}
