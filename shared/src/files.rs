//! Files: small ones travel inside the message, larger ones are uploaded after their message
//! (seed 000). A `file` or `image` message's `content` is an [`Attachment`] as JSON.

use crate::{Millis, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Files of at most this many bytes travel inside the message (base64 in `data`), with no file
/// record; larger ones are uploaded (`POST /api/files`).
pub const MAX_INLINE_BYTES: u64 = 1024;
/// Longest file name, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 255;
/// Longest mime type, in bytes.
pub const MAX_MIME_LEN: usize = 127;
/// Header of `PUT /api/files/{id}/content`: the byte offset the body starts at, which must equal
/// the bytes already received. Conflicts answer it with the current offset.
pub const UPLOAD_OFFSET_HEADER: &str = "upload-offset";
/// Header of `GET /api/files/{id}/content` while the upload runs: `uploading` (the body is the
/// prefix received so far) or `ready`.
pub const UPLOAD_STATE_HEADER: &str = "upload-state";

/// An uploaded file: 22 characters of unguessable base64url, handed out by the server.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FileId(pub String);

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `POST /api/files` body: what the client is about to upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFile {
    pub name: String,
    /// Bytes.
    pub size: u64,
    pub mime: String,
    /// SHA-256 of the whole content, 64 hex digits.
    pub sha256: String,
}

/// `POST /api/files` answer (201): the new record, and where to `PUT` the bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCreated {
    pub file: FileInfo,
    /// `/api/files/{id}/content`.
    pub upload_url: String,
}

/// Where a file's upload stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    /// Bytes are still arriving; `received` says how many.
    Uploading,
    /// Complete and verified: download it.
    Ready,
    /// The upload failed for good (`failure` says why); upload it again as a new file.
    Failed,
}

deserialize_by_name!(FileState { Uploading = "uploading", Ready = "ready", Failed = "failed" });

/// Why an upload failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFailure {
    /// More bytes arrived than the declared size.
    SizeMismatch,
    /// The bytes do not hash to the declared SHA-256.
    ChecksumMismatch,
    /// The upload was not completed in time (`--upload-expiry`).
    Expired,
}

deserialize_by_name!(FileFailure { SizeMismatch = "size_mismatch", ChecksumMismatch = "checksum_mismatch", Expired = "expired" });

/// `GET /api/files/{id}` answer, and the payload of the `file_ready` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub id: FileId,
    pub name: String,
    pub size: u64,
    pub mime: String,
    pub sha256: String,
    pub state: FileState,
    /// Bytes received so far (`size` once ready).
    pub received: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FileFailure>,
    pub uploader: UserId,
    /// When the record was created.
    pub time: Millis,
    /// True when `GET /api/files/{id}/thumbnail` has a small preview (ready images only).
    #[serde(default)]
    pub thumbnail: bool,
}

/// The `content` of a `file` or `image` message, as JSON: either the bytes themselves (at most
/// [`MAX_INLINE_BYTES`]) or a reference to an uploaded file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Attachment {
    Inline(InlineAttachment),
    Stored(StoredAttachment),
}

/// A small file carried inside the message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InlineAttachment {
    pub name: String,
    pub size: u64,
    pub mime: String,
    /// The bytes, standard base64 with padding.
    pub data: String,
}

/// A file uploaded through `/api/files`; download it from `/api/files/{file_id}/content`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredAttachment {
    pub file_id: FileId,
    pub name: String,
    pub size: u64,
    pub mime: String,
}

impl Attachment {
    pub fn name(&self) -> &str {
        match self {
            Attachment::Inline(a) => &a.name,
            Attachment::Stored(a) => &a.name,
        }
    }

    pub fn size(&self) -> u64 {
        match self {
            Attachment::Inline(a) => a.size,
            Attachment::Stored(a) => a.size,
        }
    }

    pub fn mime(&self) -> &str {
        match self {
            Attachment::Inline(a) => &a.mime,
            Attachment::Stored(a) => &a.mime,
        }
    }

    /// The uploaded file this attachment refers to, if it is not inline.
    pub fn file_id(&self) -> Option<&FileId> {
        match self {
            Attachment::Inline(_) => None,
            Attachment::Stored(a) => Some(&a.file_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_are_told_apart_by_their_fields() {
        let inline: Attachment =
            serde_json::from_str(r#"{"name":"a.txt","size":2,"mime":"text/plain","data":"aGk="}"#)
                .expect("inline");
        assert!(matches!(inline, Attachment::Inline(_)));
        let stored: Attachment = serde_json::from_str(
            r#"{"file_id":"abc","name":"a.bin","size":5000,"mime":"application/zip"}"#,
        )
        .expect("stored");
        assert_eq!(stored.file_id(), Some(&FileId("abc".into())));
        let both = serde_json::from_str::<Attachment>(
            r#"{"file_id":"abc","name":"a","size":1,"mime":"a/b","data":"AA=="}"#,
        );
        assert!(both.is_err());
    }
}
