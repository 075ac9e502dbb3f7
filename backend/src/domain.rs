//! Pure rules: validation of what clients send, and how ids are derived. No I/O here.
//! Each `parse` turns raw input into a type that is valid by construction.

pub mod contacts;
pub mod files;
pub mod groups;
pub mod identity;

use shared::{
    ClientMsgId, ConversationId, Cursor, DEFAULT_PAGE_LIMIT, MAX_CLIENT_MSG_ID_LEN, MAX_PAGE_LIMIT,
    MAX_TEXT_CHARS, MsgType, Seq, UserId,
};
use std::time::Duration;

/// Why input was refused. Each maps to one stable error code at the HTTP edge.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ValidationError {
    #[error("the message is empty")]
    ContentEmpty,
    #[error("the message is longer than {MAX_TEXT_CHARS} characters")]
    ContentTooLarge,
    #[error(
        "client_msg_id must be 1 to {MAX_CLIENT_MSG_ID_LEN} characters of A-Z, a-z, 0-9, '-' or '_'"
    )]
    InvalidClientMsgId,
    #[error("you cannot send a one-to-one message to yourself")]
    CannotMessageSelf,
    #[error("{0}")]
    InvalidParameter(&'static str),
    #[error("the cursor must not be negative")]
    NegativeCursor,
    #[error("seq must not be negative")]
    NegativeSeq,
    #[error("{0}")]
    InvalidAttachment(&'static str),
}

/// The content of a message, checked against its type's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageContent {
    msg_type: MsgType,
    text: String,
    /// The parsed content of a file or image message.
    attachment: Option<shared::files::Attachment>,
}

impl MessageContent {
    /// Text must contain something besides whitespace and be at most `MAX_TEXT_CHARS` long.
    /// Files and images carry an attachment as JSON (see [`files::parse_attachment`]).
    pub fn parse(msg_type: MsgType, content: String) -> Result<Self, ValidationError> {
        let mut attachment = None;
        match msg_type {
            MsgType::Text => {
                if content.trim().is_empty() {
                    return Err(ValidationError::ContentEmpty);
                }
                if content.chars().count() > MAX_TEXT_CHARS {
                    return Err(ValidationError::ContentTooLarge);
                }
            }
            MsgType::File | MsgType::Image => {
                attachment = Some(files::parse_attachment(msg_type, &content)?);
            }
        }
        Ok(Self {
            msg_type,
            text: content,
            attachment,
        })
    }

    /// The attachment of a file or image message.
    pub fn attachment(&self) -> Option<&shared::files::Attachment> {
        self.attachment.as_ref()
    }

    pub fn msg_type(&self) -> MsgType {
        self.msg_type
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Checks a client's idempotency key.
pub fn parse_client_msg_id(id: ClientMsgId) -> Result<ClientMsgId, ValidationError> {
    let ok = !id.0.is_empty()
        && id.0.len() <= MAX_CLIENT_MSG_ID_LEN
        && id
            .0
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(id)
    } else {
        Err(ValidationError::InvalidClientMsgId)
    }
}

/// The one conversation two users share, whoever writes first: `d{low}_{high}`. Clients treat
/// it as opaque.
pub fn direct_conversation(a: UserId, b: UserId) -> Result<ConversationId, ValidationError> {
    if a == b {
        return Err(ValidationError::CannotMessageSelf);
    }
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    Ok(ConversationId(format!("d{low}_{high}")))
}

/// Which slice of a conversation's history to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageRequest {
    /// The newest `limit` messages with `seq < before` (or the newest overall when `before` is
    /// `None`).
    Before { before: Option<Seq>, limit: u32 },
    /// The oldest `limit` messages with `after < seq` (and `seq < before` when given).
    After {
        after: Seq,
        before: Option<Seq>,
        limit: u32,
    },
}

impl PageRequest {
    /// `limit` defaults to 20 and is capped at 100; it must be at least 1.
    pub fn parse(
        before: Option<i64>,
        after: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Self, ValidationError> {
        let limit = match limit {
            None => DEFAULT_PAGE_LIMIT,
            Some(0) => {
                return Err(ValidationError::InvalidParameter(
                    "limit must be at least 1",
                ));
            }
            Some(n) => n.min(MAX_PAGE_LIMIT),
        };
        if before.is_some_and(|b| b < 0) || after.is_some_and(|a| a < 0) {
            return Err(ValidationError::NegativeSeq);
        }
        let before = before.map(Seq);
        Ok(match after {
            Some(after) => PageRequest::After {
                after: Seq(after),
                before,
                limit,
            },
            None => PageRequest::Before { before, limit },
        })
    }
}

/// A long-poll request: where to resume and how long the client is willing to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollRequest {
    pub after: Cursor,
    pub timeout: Duration,
}

impl PollRequest {
    /// A missing `after` means 0 (the start of the stream); a missing timeout means "do not
    /// park". The timeout is capped at `cap`.
    pub fn parse(
        after: Option<i64>,
        timeout_secs: Option<f64>,
        cap: Duration,
    ) -> Result<Self, ValidationError> {
        let after = after.unwrap_or(0);
        if after < 0 {
            return Err(ValidationError::NegativeCursor);
        }
        let timeout = match timeout_secs {
            None => Duration::ZERO,
            Some(t) if t.is_finite() && t >= 0.0 => {
                Duration::from_secs_f64(t.min(cap.as_secs_f64()))
            }
            Some(_) => {
                return Err(ValidationError::InvalidParameter(
                    "timeout must be a number of seconds, 0 or more",
                ));
            }
        };
        Ok(Self {
            after: Cursor(after),
            timeout: timeout.min(cap),
        })
    }
}

/// The nick a new guest gets: `Guest-` and four digits.
pub fn guest_nick(random: u16) -> String {
    format!("Guest-{:04}", 1000 + random % 9000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_only_text_is_empty() {
        assert_eq!(
            MessageContent::parse(MsgType::Text, " \n\t".into()),
            Err(ValidationError::ContentEmpty)
        );
    }

    #[test]
    fn text_is_measured_in_characters_not_bytes() {
        let at_cap = "é".repeat(MAX_TEXT_CHARS);
        assert!(MessageContent::parse(MsgType::Text, at_cap.clone()).is_ok());
        assert_eq!(
            MessageContent::parse(MsgType::Text, at_cap + "x"),
            Err(ValidationError::ContentTooLarge)
        );
    }

    #[test]
    fn client_msg_ids_allow_only_a_safe_alphabet() {
        assert!(parse_client_msg_id(ClientMsgId("abc-DEF_123".into())).is_ok());
        for bad in ["", "a b", "ü", &"x".repeat(MAX_CLIENT_MSG_ID_LEN + 1)] {
            assert!(
                parse_client_msg_id(ClientMsgId(bad.into())).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn both_participants_share_one_conversation_id() {
        let ab = direct_conversation(UserId(3), UserId(12)).expect("distinct users");
        let ba = direct_conversation(UserId(12), UserId(3)).expect("distinct users");
        assert_eq!(ab, ba);
        assert!(direct_conversation(UserId(5), UserId(5)).is_err());
    }

    #[test]
    fn page_limits_default_and_cap() {
        assert_eq!(
            PageRequest::parse(None, None, None),
            Ok(PageRequest::Before {
                before: None,
                limit: 20
            })
        );
        assert_eq!(
            PageRequest::parse(Some(50), None, Some(1000)),
            Ok(PageRequest::Before {
                before: Some(Seq(50)),
                limit: 100
            })
        );
        assert!(PageRequest::parse(None, None, Some(0)).is_err());
        assert!(PageRequest::parse(Some(-1), None, None).is_err());
    }

    #[test]
    fn poll_timeouts_are_capped_and_must_be_sane() {
        let cap = Duration::from_secs(30);
        let p = PollRequest::parse(Some(4), Some(100.0), cap).expect("valid");
        assert_eq!(p.timeout, cap);
        assert!(PollRequest::parse(Some(-1), None, cap).is_err());
        assert!(PollRequest::parse(None, Some(-3.0), cap).is_err());
        assert!(PollRequest::parse(None, Some(f64::NAN), cap).is_err());
    }

    #[test]
    fn guest_nicks_have_four_digits() {
        for r in [0, 1, 8999, 9000, u16::MAX] {
            let nick = guest_nick(r);
            assert_eq!(nick.len(), "Guest-1234".len(), "{nick}");
        }
    }
}
