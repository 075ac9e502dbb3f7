//! Guest identity: random session tokens, of which only the SHA-256 is stored.

use super::{AppState, ServiceError, now_millis};
use crate::domain::guest_nick;
use base64::Engine;
use sha2::{Digest, Sha256};
use shared::{GuestSession, Me, UserId};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// An authenticated caller, as looked up from their token.
#[derive(Clone, Debug)]
pub struct Caller {
    pub uid: UserId,
}

/// Most sessions kept by [`SessionCache`]; it starts over when full.
const SESSION_CACHE_CAP: usize = 100_000;

/// Token hash -> caller, for sessions already looked up, so that polls and sends skip the
/// session query. Sessions are never revoked yet; whatever revokes one (logout, kick) must also
/// evict it from this cache, on every node (through the wake-up channel).
#[derive(Debug, Default)]
pub struct SessionCache(Mutex<HashMap<String, Caller>>);

impl SessionCache {
    fn get(&self, token_hash: &str) -> Option<Caller> {
        self.lock().get(token_hash).cloned()
    }

    fn insert(&self, token_hash: String, caller: Caller) {
        let mut sessions = self.lock();
        if sessions.len() >= SESSION_CACHE_CAP {
            sessions.clear();
        }
        sessions.insert(token_hash, caller);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Caller>> {
        // A poisoned lock only means a panic while holding it; the map stays usable.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A new random session token: 32 bytes, base64url (43 characters).
pub(crate) fn new_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// A new random friend invite code.
pub(crate) fn new_friend_code() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

/// Creates a guest user and a session for it. The token is returned once and never stored.
pub async fn create_guest(state: &AppState) -> Result<GuestSession, ServiceError> {
    let token = new_token();
    let nick_name = guest_nick(rand::random());
    let friend_code = new_friend_code();
    let uid = state
        .store
        .create_guest(&nick_name, &friend_code, &hash_token(&token), now_millis())
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
    let token_hash = hash_token(token);
    if let Some(caller) = state.sessions.get(&token_hash) {
        return Ok(caller);
    }
    let user = state
        .store
        .user_by_token_hash(&token_hash)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    let caller = Caller { uid: user.uid };
    state.sessions.insert(token_hash, caller.clone());
    Ok(caller)
}

/// The caller's own profile and current stream head.
pub async fn me(state: &AppState, caller: &Caller) -> Result<Me, ServiceError> {
    let user = state
        .store
        .user(caller.uid)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    Ok(Me {
        uid: caller.uid,
        nick_name: user.nick_name,
        kind: user.kind,
        cursor: user.event_head,
        gender: user.gender,
        birthday: user.birthday,
        time: user.profile_time,
        open_level: user.open_level,
        friend_level: user.friend_level,
        msg_policy: user.msg_policy,
        presence_level: user.presence_level,
        friend_code: user.friend_code,
    })
}

/// What the store keeps of a session token.
pub(crate) fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
