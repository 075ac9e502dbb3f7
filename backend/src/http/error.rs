//! The one error type of the HTTP edge. Every failure becomes a status and the JSON body
//! `{"code", "message"}` with a stable code from `shared`. 5xx are logged here, once, with
//! their cause chain, and answered with a generic message.

use crate::domain::ValidationError;
use crate::service::ServiceError;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::{ErrorBody, ErrorCode};
use std::error::Error as _;

/// Why a request failed, as the client sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("the request body is not valid JSON for this endpoint: {0}")]
    InvalidJson(String),
    #[error("send the body as JSON with Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("{0}")]
    InvalidParameter(String),
    #[error("no such API route")]
    NotFound,
    #[error("this route does not accept that method")]
    MethodNotAllowed,
    #[error("requests from this origin are not allowed")]
    ForbiddenOrigin,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        use ErrorCode as C;
        use StatusCode as S;
        match self {
            ApiError::InvalidJson(_) => (S::BAD_REQUEST, C::InvalidJson),
            ApiError::UnsupportedMediaType => (S::UNSUPPORTED_MEDIA_TYPE, C::UnsupportedMediaType),
            ApiError::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, C::PayloadTooLarge),
            ApiError::InvalidParameter(_) => (S::BAD_REQUEST, C::InvalidParameter),
            ApiError::NotFound => (S::NOT_FOUND, C::NotFound),
            ApiError::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, C::MethodNotAllowed),
            ApiError::ForbiddenOrigin => (S::FORBIDDEN, C::ForbiddenOrigin),
            ApiError::Service(e) => match e {
                ServiceError::Invalid(v) => (
                    S::BAD_REQUEST,
                    match v {
                        ValidationError::ContentEmpty => C::ContentEmpty,
                        ValidationError::ContentTooLarge => C::ContentTooLarge,
                        ValidationError::InvalidClientMsgId => C::InvalidClientMsgId,
                        ValidationError::CannotMessageSelf => C::CannotMessageSelf,
                        ValidationError::InvalidParameter(_) => C::InvalidParameter,
                        ValidationError::NegativeCursor => C::InvalidCursor,
                        ValidationError::NegativeSeq => C::InvalidSeq,
                        ValidationError::InvalidAttachment(_) => C::InvalidAttachment,
                    },
                ),
                ServiceError::Unauthenticated => (S::UNAUTHORIZED, C::Unauthenticated),
                ServiceError::UnknownUser(_) => (S::NOT_FOUND, C::UnknownUser),
                ServiceError::ConversationNotFound => (S::NOT_FOUND, C::ConversationNotFound),
                ServiceError::SeqOutOfRange { .. } => (S::BAD_REQUEST, C::InvalidSeq),
                ServiceError::CursorAhead { .. } => (S::BAD_REQUEST, C::InvalidCursor),
                ServiceError::Refused { code, .. } => (status_of(*code), *code),
                ServiceError::Store(_) | ServiceError::Storage(_) => {
                    (S::INTERNAL_SERVER_ERROR, C::Internal)
                }
            },
        }
    }
}

/// The HTTP status of a refusal's code.
fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode as C;
    match code {
        C::Unauthenticated | C::IdentityInvalid | C::IdentityExpired => StatusCode::UNAUTHORIZED,
        C::ForbiddenOrigin
        | C::ForbiddenByPrivacy
        | C::FriendRequestsClosed
        | C::Blocked
        | C::NotAMember
        | C::InsufficientRole
        | C::InviteOnly => StatusCode::FORBIDDEN,
        C::UnknownUser
        | C::ConversationNotFound
        | C::NotFound
        | C::NotFriends
        | C::RequestNotFound
        | C::GroupNotFound
        | C::FileNotFound
        | C::UnknownFile => StatusCode::NOT_FOUND,
        C::AlreadyFriends
        | C::AlreadyMember
        | C::OwnerCannotLeave
        | C::UploadOffsetMismatch
        | C::UploadClosed
        | C::FileNotReady => StatusCode::CONFLICT,
        C::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        C::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
        C::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        C::PayloadTooLarge | C::FileTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        C::RateLimited | C::TooManyUploads => StatusCode::TOO_MANY_REQUESTS,
        C::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        C::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status.is_server_error() {
            let mut chain = self.to_string();
            let mut source = self.source();
            while let Some(cause) = source {
                chain.push_str(": ");
                chain.push_str(&cause.to_string());
                source = cause.source();
            }
            tracing::error!(code = %code, error = %chain, "request failed");
            "something went wrong on the server; please retry".to_owned()
        } else {
            tracing::debug!(code = %code, error = %self, "request refused");
            self.to_string()
        };
        let body = ErrorBody {
            code: code.as_str().to_owned(),
            message,
        };
        (status, Json(body)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::BytesRejection(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            other => ApiError::InvalidJson(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::InvalidParameter(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::InvalidParameter(rejection.body_text())
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::Service(e.into())
    }
}
