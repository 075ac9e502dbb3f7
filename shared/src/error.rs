//! Error body and the stable error codes every 4xx/5xx answer carries.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The JSON body of every error answer: `{"code": "...", "message": "..."}`. `code` is stable and
/// meant for programs; `message` is for people and may change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// Every error code the server answers with. Clients should treat codes they do not know like a
/// generic failure of the same HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 401: no session, or an unknown or expired token.
    Unauthenticated,
    /// 400: the body is not valid JSON or misses required fields.
    InvalidJson,
    /// 415: a body was sent without `Content-Type: application/json`.
    UnsupportedMediaType,
    /// 400: a query string or path parameter is malformed.
    InvalidParameter,
    /// 413: the request body is larger than the server accepts.
    PayloadTooLarge,
    /// 404: the recipient user does not exist.
    UnknownUser,
    /// 400: a one-to-one message addressed to oneself.
    CannotMessageSelf,
    /// 400: the message content is empty (or only whitespace).
    ContentEmpty,
    /// 400: the message content is longer than `MAX_TEXT_CHARS`.
    ContentTooLarge,
    /// 400: `client_msg_id` is empty, too long or has characters outside `[A-Za-z0-9_-]`.
    InvalidClientMsgId,
    /// 404: the conversation does not exist or the user is not in it.
    ConversationNotFound,
    /// 400: a `seq` outside the conversation's range.
    InvalidSeq,
    /// 400: an event cursor the server never handed out (ahead of the stream's head, or negative).
    InvalidCursor,
    /// 403: a mutating request from an origin that is not allowed.
    ForbiddenOrigin,
    /// 404: no such API route.
    NotFound,
    /// 405: the route exists but not with this method.
    MethodNotAllowed,
    /// 400: a nick name that is empty, only whitespace or longer than 254 characters.
    InvalidNickName,
    /// 400: a birthday that is not a real date written YYYYMMDD.
    InvalidBirthday,
    /// 400: a note or answer text longer than allowed.
    NoteTooLong,
    /// 400: a group name that is empty, only whitespace or longer than 254 characters.
    InvalidGroupName,
    /// 400: a group intro longer than 2045 characters.
    IntroTooLong,
    /// 400: a batch request with more ids than allowed.
    TooManyIds,
    /// 403: the other user's privacy settings do not allow this (seeing their profile, messaging or inviting them).
    ForbiddenByPrivacy,
    /// 403: the user accepts no friend requests.
    FriendRequestsClosed,
    /// 403: you blocked this user; unblock them first.
    Blocked,
    /// 400: a friend request, block or invitation addressed to oneself.
    CannotAddSelf,
    /// 409: you are friends already.
    AlreadyFriends,
    /// 404: the user is not your friend.
    NotFriends,
    /// 404: no such pending request addressed to (or sent by) you.
    RequestNotFound,
    /// 404: the group does not exist or was dissolved.
    GroupNotFound,
    /// 403: only members of the group may do this (or the user is not a member).
    NotAMember,
    /// 403: your role in the group does not allow this.
    InsufficientRole,
    /// 409: the user is a member of the group already.
    AlreadyMember,
    /// 403: the group takes new members by invitation only.
    InviteOnly,
    /// 409: the owner must transfer ownership or dissolve the group before leaving.
    OwnerCannotLeave,
    /// 400: a role that cannot be set this way (only admin or member).
    InvalidRole,
    /// 404: no such file, or the caller may not see it.
    FileNotFound,
    /// 404: a message refers to a file that does not exist or that the sender did not upload.
    UnknownFile,
    /// 400: a file or image message's content is not a valid attachment (name, mime, size,
    /// inline data larger than 1 KB, or data that does not match its size).
    InvalidAttachment,
    /// 400: a new file's name, mime type, size or SHA-256 is malformed.
    InvalidFile,
    /// 413: the file is larger than the server accepts (`--max-file-bytes`).
    FileTooLarge,
    /// 429: too many uploads are still pending; finish or abandon some first.
    TooManyUploads,
    /// 400: more bytes arrived than the file's declared size; the upload failed.
    SizeMismatch,
    /// 400: the bytes do not hash to the declared SHA-256; the upload failed.
    ChecksumMismatch,
    /// 409: `Upload-Offset` is not the number of bytes received so far (the answer's
    /// `Upload-Offset` header has it), or another upload of the file is running.
    UploadOffsetMismatch,
    /// 409: the upload is over (complete or failed); no more bytes are accepted.
    UploadClosed,
    /// 409: the file is not ready (still uploading, or failed).
    FileNotReady,
    /// 416: the `Range` of a download lies beyond the bytes there are.
    RangeNotSatisfiable,
    /// 429: too many requests; retry later.
    RateLimited,
    /// 401: a site's identity token is malformed, names an unknown site, uses another algorithm
    /// than HS256, or its signature does not match the site's secret.
    IdentityInvalid,
    /// 401: a site's identity token is past its `exp`.
    IdentityExpired,
    /// 400: a widget target that is not `u:UID` or `g:GID`.
    InvalidTarget,
    /// 500: something broke on the server; the message says nothing more.
    Internal,
    /// 503: the server is overloaded or shutting down; retry later.
    Unavailable,
}

impl ErrorCode {
    /// The stable string sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnknownUser => "unknown_user",
            ErrorCode::CannotMessageSelf => "cannot_message_self",
            ErrorCode::ContentEmpty => "content_empty",
            ErrorCode::ContentTooLarge => "content_too_large",
            ErrorCode::InvalidClientMsgId => "invalid_client_msg_id",
            ErrorCode::ConversationNotFound => "conversation_not_found",
            ErrorCode::InvalidSeq => "invalid_seq",
            ErrorCode::InvalidCursor => "invalid_cursor",
            ErrorCode::ForbiddenOrigin => "forbidden_origin",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::InvalidNickName => "invalid_nick_name",
            ErrorCode::InvalidBirthday => "invalid_birthday",
            ErrorCode::NoteTooLong => "note_too_long",
            ErrorCode::InvalidGroupName => "invalid_group_name",
            ErrorCode::IntroTooLong => "intro_too_long",
            ErrorCode::TooManyIds => "too_many_ids",
            ErrorCode::ForbiddenByPrivacy => "forbidden_by_privacy",
            ErrorCode::FriendRequestsClosed => "friend_requests_closed",
            ErrorCode::Blocked => "blocked",
            ErrorCode::CannotAddSelf => "cannot_add_self",
            ErrorCode::AlreadyFriends => "already_friends",
            ErrorCode::NotFriends => "not_friends",
            ErrorCode::RequestNotFound => "request_not_found",
            ErrorCode::GroupNotFound => "group_not_found",
            ErrorCode::NotAMember => "not_a_member",
            ErrorCode::InsufficientRole => "insufficient_role",
            ErrorCode::AlreadyMember => "already_member",
            ErrorCode::InviteOnly => "invite_only",
            ErrorCode::OwnerCannotLeave => "owner_cannot_leave",
            ErrorCode::InvalidRole => "invalid_role",
            ErrorCode::FileNotFound => "file_not_found",
            ErrorCode::UnknownFile => "unknown_file",
            ErrorCode::InvalidAttachment => "invalid_attachment",
            ErrorCode::InvalidFile => "invalid_file",
            ErrorCode::FileTooLarge => "file_too_large",
            ErrorCode::TooManyUploads => "too_many_uploads",
            ErrorCode::SizeMismatch => "size_mismatch",
            ErrorCode::ChecksumMismatch => "checksum_mismatch",
            ErrorCode::UploadOffsetMismatch => "upload_offset_mismatch",
            ErrorCode::UploadClosed => "upload_closed",
            ErrorCode::FileNotReady => "file_not_ready",
            ErrorCode::RangeNotSatisfiable => "range_not_satisfiable",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::IdentityInvalid => "identity_invalid",
            ErrorCode::IdentityExpired => "identity_expired",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
