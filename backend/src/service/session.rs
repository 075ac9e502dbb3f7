//! Guest identity: random session tokens, of which only the SHA-256 is stored.

use super::{AppState, ServiceError, now_millis};
use crate::domain::guest_nick;
use base64::Engine;
use sha2::{Digest, Sha256};
use shared::{AccountKind, GuestSession, Me, UserId};

/// An authenticated caller, as looked up from their token.
#[derive(Clone, Debug)]
pub struct Caller {
    pub uid: UserId,
    pub nick_name: String,
    pub cursor: shared::Cursor,
}

/// Creates a guest user and a session for it. The token is returned once and never stored.
pub async fn create_guest(state: &AppState) -> Result<GuestSession, ServiceError> {
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let nick_name = guest_nick(rand::random());
    let uid = state
        .store
        .create_guest(&nick_name, &hash_token(&token), now_millis())
        .await?;
    tracing::info!(uid = %uid, "guest created");
    Ok(GuestSession {
        uid,
        token,
        nick_name,
    })
}

/// The user a token belongs to.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Caller, ServiceError> {
    // Tokens are 43 characters; anything far off is not worth a query.
    if token.is_empty() || token.len() > 256 {
        return Err(ServiceError::Unauthenticated);
    }
    let user = state
        .store
        .user_by_token_hash(&hash_token(token))
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    Ok(Caller {
        uid: user.uid,
        nick_name: user.nick_name,
        cursor: user.event_head,
    })
}

/// The caller's own profile and stream head.
pub fn me(caller: &Caller) -> Me {
    Me {
        uid: caller.uid,
        nick_name: caller.nick_name.clone(),
        kind: AccountKind::Guest,
        cursor: caller.cursor,
    }
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
