//! Sending, listing and reading messages.

use super::{AppState, ServiceError, now_millis};
use crate::domain::groups::{GROUP_NOT_FOUND, NOT_A_MEMBER, group_conversation};
use crate::domain::{self, MessageContent, PageRequest};
use crate::store::{AcceptRule, NewMessage, ReadOutcome, SendOutcome};
use shared::{
    ConversationId, ConversationList, ErrorCode, MessagePage, ReadState, SendAck, SendMessage, Seq,
    Target, UserId,
};

/// Stores a message and wakes its recipients. A retry with a `client_msg_id` the sender used
/// before returns the first message's ack and writes nothing.
pub async fn send(
    state: &AppState,
    sender: UserId,
    request: SendMessage,
) -> Result<SendAck, ServiceError> {
    let client_msg_id = domain::parse_client_msg_id(request.client_msg_id)?;
    let content = MessageContent::parse(request.msg_type, request.content)?;
    let file = super::files::check_attachment(state, sender, content.attachment()).await?;
    let (conversation, accepts) = match request.to {
        // Whether the recipient accepts it (blocks, privacy) is decided inside the writing
        // transaction: a retry of a send acknowledged before a refusal began still answers
        // with the first message, as every retry does.
        Target::User(recipient) => (
            domain::direct_conversation(sender, recipient)?,
            Some(super::contacts::accepts as AcceptRule),
        ),
        Target::Group(gid) => (group_conversation(gid), None),
    };
    let outcome = state
        .store
        .send_message(NewMessage {
            sender,
            to: request.to.clone(),
            conversation,
            client_msg_id,
            msg_type: content.msg_type(),
            content: content.text().to_owned(),
            now: now_millis(),
            accepts,
        })
        .await?;
    let message = match outcome {
        SendOutcome::Created {
            message,
            recipients,
        } => {
            state.notifier.wake(&recipients);
            tracing::debug!(uid = %sender, conv = %message.conversation, seq = %message.seq, "message stored");
            message
        }
        SendOutcome::Duplicate(message) => {
            tracing::debug!(uid = %sender, conv = %message.conversation, seq = %message.seq, "duplicate send answered from store");
            message
        }
        SendOutcome::UnknownRecipient => match request.to {
            Target::User(recipient) => return Err(ServiceError::UnknownUser(recipient)),
            Target::Group(_) => return Err(GROUP_NOT_FOUND.into()),
        },
        SendOutcome::Refused(facts) => {
            return Err(super::contacts::refusal(&facts).unwrap_or_else(|| {
                ServiceError::refused(ErrorCode::ForbiddenByPrivacy, "this message is refused")
            }));
        }
        // Only now tell an unknown or dissolved group from one the sender is not in.
        SendOutcome::NotAMember => {
            return Err(match request.to {
                Target::Group(gid) if state.store.group(gid).await?.is_some() => NOT_A_MEMBER,
                _ => GROUP_NOT_FOUND,
            }
            .into());
        }
    };
    if let Some(file) = &file {
        // Also on a retry: linking is idempotent, and a lost first answer may have missed it.
        super::files::link(state, file, &message.conversation, message.seq).await?;
    }
    Ok(SendAck {
        msg_id: message.msg_id,
        conversation: message.conversation,
        seq: message.seq,
        time: message.time,
    })
}

/// The caller's conversations, newest activity first.
pub async fn conversations(
    state: &AppState,
    uid: UserId,
) -> Result<ConversationList, ServiceError> {
    Ok(ConversationList {
        conversations: state.store.conversations(uid).await?,
    })
}

/// A page of history; only for members.
pub async fn history(
    state: &AppState,
    uid: UserId,
    conversation: &ConversationId,
    page: PageRequest,
) -> Result<MessagePage, ServiceError> {
    let Some(membership) = state.store.membership(conversation, uid).await? else {
        return Err(ServiceError::ConversationNotFound);
    };
    Ok(state
        .store
        .messages(conversation, page, membership.init_seq)
        .await?)
}

/// Moves the caller's read position forward; never backward.
pub async fn mark_read(
    state: &AppState,
    uid: UserId,
    conversation: &ConversationId,
    seq: Seq,
) -> Result<ReadState, ServiceError> {
    if seq.0 < 0 {
        return Err(domain::ValidationError::NegativeSeq.into());
    }
    let (outcome, wake) = state
        .store
        .mark_read(conversation, uid, seq, now_millis())
        .await?;
    if let Some(uid) = wake {
        state.notifier.wake(&[uid]);
    }
    match outcome {
        ReadOutcome::NotMember => Err(ServiceError::ConversationNotFound),
        ReadOutcome::SeqOutOfRange { max_seq } => Err(ServiceError::SeqOutOfRange {
            seq: seq.0,
            max_seq: max_seq.0,
        }),
        ReadOutcome::Done {
            read_seq, max_seq, ..
        } => Ok(ReadState {
            conversation: conversation.clone(),
            read_seq,
            unread: (max_seq.0 - read_seq.0).max(0),
        }),
    }
}
