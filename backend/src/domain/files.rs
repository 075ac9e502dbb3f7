//! Rules for files: names, mime types, checksums, attachments in messages, ids, ranges and how a
//! download is presented to the browser. No I/O here.

use super::ValidationError;
use base64::Engine;
use shared::MsgType;
use shared::files::{
    Attachment, FileId, MAX_FILE_NAME_CHARS, MAX_INLINE_BYTES, MAX_MIME_LEN, NewFile,
};

/// Length of a file id: 16 random bytes in base64url without padding.
pub const FILE_ID_LEN: usize = 22;

/// A fresh, unguessable file id from 16 random bytes.
pub fn new_file_id(random: [u8; 16]) -> FileId {
    FileId(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random))
}

/// A file id as the server hands them out; anything else names no file.
pub fn parse_file_id(raw: &str) -> Option<FileId> {
    let ok = raw.len() == FILE_ID_LEN
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| FileId(raw.to_owned()))
}

/// Why a new file's metadata was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileRuleError {
    #[error("{0}")]
    Invalid(&'static str),
    #[error("the file is larger than this server accepts ({max} bytes)")]
    TooLarge { max: u64 },
}

/// A new file's metadata, valid by construction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidNewFile {
    pub name: String,
    pub size: u64,
    pub mime: String,
    /// Lower-case hex.
    pub sha256: String,
}

/// Checks `POST /api/files`: a sane name and mime type, a SHA-256 of 64 hex digits, and a size
/// above the inline limit (smaller files travel inside the message) and at most `max_bytes`.
pub fn parse_new_file(file: NewFile, max_bytes: u64) -> Result<ValidNewFile, FileRuleError> {
    check_name(&file.name).map_err(FileRuleError::Invalid)?;
    let mime = parse_mime(&file.mime).map_err(FileRuleError::Invalid)?;
    if file.sha256.len() != 64 || !file.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(FileRuleError::Invalid("sha256 must be 64 hex digits"));
    }
    if file.size <= MAX_INLINE_BYTES {
        return Err(FileRuleError::Invalid(
            "files of 1024 bytes or less travel inside the message (inline data), not uploaded",
        ));
    }
    if file.size > max_bytes {
        return Err(FileRuleError::TooLarge { max: max_bytes });
    }
    Ok(ValidNewFile {
        name: file.name,
        size: file.size,
        mime,
        sha256: file.sha256.to_ascii_lowercase(),
    })
}

/// A file name: 1 to 255 characters, no path separators, no control characters, not `.` or `..`.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    let count = name.chars().count();
    if count == 0 || count > MAX_FILE_NAME_CHARS || name.trim().is_empty() {
        return Err("a file name has 1 to 255 characters");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err("a file name must not contain path separators or control characters");
    }
    if name == "." || name == ".." {
        return Err("a file name must not be . or ..");
    }
    Ok(())
}

/// A mime type `type/subtype` of token characters (parameters are not kept), lower-cased.
pub fn parse_mime(mime: &str) -> Result<String, &'static str> {
    const BAD: &str = "mime must be a type/subtype like image/png";
    if mime.is_empty() || mime.len() > MAX_MIME_LEN {
        return Err(BAD);
    }
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match mime.split_once('/') {
        Some((kind, sub)) if token(kind) && token(sub) => Ok(mime.to_ascii_lowercase()),
        _ => Err(BAD),
    }
}

/// Image types the server makes thumbnails of and lets browsers show inline.
pub fn is_previewable_image(mime: &str) -> bool {
    matches!(
        mime,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// The `Content-Type` a download is served with: the stored type, except types a browser would
/// run or render as a document (HTML, SVG, XML, scripts), which become `application/octet-stream`.
pub fn served_content_type(mime: &str) -> &str {
    let active = mime.contains("html")
        || mime.contains("xml")
        || mime.contains("javascript")
        || mime.contains("ecmascript")
        || mime == "image/svg+xml"
        || mime.starts_with("multipart/");
    if active {
        "application/octet-stream"
    } else {
        mime
    }
}

/// `Content-Disposition` for a download: `inline` only for safe image types, `attachment`
/// otherwise, with an ASCII fallback name and the exact name in RFC 8187 `filename*`.
pub fn content_disposition(name: &str, mime: &str) -> String {
    let kind = if is_previewable_image(mime) {
        "inline"
    } else {
        "attachment"
    };
    let fallback: String = name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && c != '"' && c != '\\' && c != '%') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // attr-char of RFC 8187: ALPHA / DIGIT / "!#$&+-.^_`|~"; everything else percent-encoded.
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// Checks the content of a `file` or `image` message and returns it parsed. Inline data must
/// decode and hold exactly `size` bytes, at most 1 KB; images must have an `image/` type.
pub fn parse_attachment(msg_type: MsgType, content: &str) -> Result<Attachment, ValidationError> {
    let attachment: Attachment = serde_json::from_str(content).map_err(|_| {
        ValidationError::InvalidAttachment(
            "content must be {name, size, mime, data} or {file_id, name, size, mime} as JSON",
        )
    })?;
    check_name(attachment.name()).map_err(ValidationError::InvalidAttachment)?;
    let mime = parse_mime(attachment.mime()).map_err(ValidationError::InvalidAttachment)?;
    if msg_type == MsgType::Image && !mime.starts_with("image/") {
        return Err(ValidationError::InvalidAttachment(
            "an image message needs an image/ mime type",
        ));
    }
    match &attachment {
        Attachment::Inline(inline) => {
            if inline.size > MAX_INLINE_BYTES {
                return Err(ValidationError::InvalidAttachment(
                    "inline data holds at most 1024 bytes; upload larger files",
                ));
            }
            // At most 1024 bytes encode to 1368 characters: refuse longer text before decoding.
            if inline.data.len() > 1368 {
                return Err(ValidationError::InvalidAttachment(
                    "inline data holds at most 1024 bytes; upload larger files",
                ));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&inline.data)
                .map_err(|_| ValidationError::InvalidAttachment("data must be standard base64"))?;
            if bytes.len() as u64 != inline.size {
                return Err(ValidationError::InvalidAttachment(
                    "size must be the number of bytes in data",
                ));
            }
        }
        Attachment::Stored(stored) => {
            if parse_file_id(&stored.file_id.0).is_none() {
                return Err(ValidationError::InvalidAttachment("file_id is malformed"));
            }
            if stored.size <= MAX_INLINE_BYTES {
                return Err(ValidationError::InvalidAttachment(
                    "files of 1024 bytes or less travel inline, in data",
                ));
            }
        }
    }
    Ok(attachment)
}

/// A byte range of a download, inclusive bounds as in HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No (usable) `Range` header: the whole content.
    Full,
    /// `start..=end`, within the content.
    Partial { start: u64, end: u64 },
    /// No byte of the content is in the range: 416.
    Unsatisfiable,
}

/// Reads a `Range` header against content of `len` bytes. Only one `bytes=` range is honoured;
/// several ranges, other units or malformed headers get the whole content (RFC 9110 allows
/// ignoring a Range header).
pub fn parse_range(header: Option<&str>, len: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    if first.is_empty() {
        // Suffix: the last N bytes.
        return match number(last) {
            None => RangeRequest::Full,
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if len == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Partial {
                start: len.saturating_sub(n),
                end: len - 1,
            },
        };
    }
    let Some(start) = number(first) else {
        return RangeRequest::Full;
    };
    let end = if last.is_empty() {
        None
    } else {
        match number(last) {
            Some(end) if end >= start => Some(end),
            _ => return RangeRequest::Full,
        }
    };
    if start >= len {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Partial {
        start,
        end: end.map_or(len - 1, |e| e.min(len - 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_file(name: &str, size: u64, mime: &str, sha256: &str) -> NewFile {
        NewFile {
            name: name.into(),
            size,
            mime: mime.into(),
            sha256: sha256.into(),
        }
    }

    #[test]
    fn file_ids_are_22_url_safe_characters() {
        let id = new_file_id([0xfb; 16]);
        assert_eq!(id.0.len(), FILE_ID_LEN);
        assert!(parse_file_id(&id.0).is_some());
        assert!(parse_file_id("../../etc/passwd").is_none());
        assert!(parse_file_id("short").is_none());
    }

    #[test]
    fn new_files_need_sane_names_types_checksums_and_sizes() {
        let sha = "a".repeat(64);
        assert!(parse_new_file(new_file("a.zip", 5000, "application/zip", &sha), 10_000).is_ok());
        for (name, mime, sha) in [
            ("", "a/b", sha.as_str()),
            ("x/y", "a/b", &sha),
            ("..", "a/b", &sha),
            ("bell\u{7}", "a/b", &sha),
            ("ok", "nonsense", &sha),
            ("ok", "a/b c", &sha),
            ("ok", "a/b", "xyz"),
            ("ok", "a/b", &"g".repeat(64)),
        ] {
            assert!(
                matches!(
                    parse_new_file(new_file(name, 5000, mime, sha), 10_000),
                    Err(FileRuleError::Invalid(_))
                ),
                "{name:?} {mime:?} {sha:?}"
            );
        }
        assert_eq!(
            parse_new_file(new_file("a", 10_001, "a/b", &sha), 10_000),
            Err(FileRuleError::TooLarge { max: 10_000 })
        );
    }

    #[test]
    fn inline_attachments_must_decode_to_their_size_and_at_most_1_kb() {
        let ok = r#"{"name":"hi.txt","size":2,"mime":"text/plain","data":"aGk="}"#;
        assert!(parse_attachment(MsgType::File, ok).is_ok());
        let wrong_size = r#"{"name":"hi.txt","size":3,"mime":"text/plain","data":"aGk="}"#;
        assert!(parse_attachment(MsgType::File, wrong_size).is_err());
        let not_image = r#"{"name":"hi.txt","size":2,"mime":"text/plain","data":"aGk="}"#;
        assert!(parse_attachment(MsgType::Image, not_image).is_err());
        assert!(parse_attachment(MsgType::File, "hello").is_err());
    }

    #[test]
    fn downloads_are_inline_only_for_safe_images_and_names_are_encoded() {
        assert_eq!(
            content_disposition("报告 \"1\".pdf", "application/pdf"),
            "attachment; filename=\"__ _1_.pdf\"; \
             filename*=UTF-8''%E6%8A%A5%E5%91%8A%20%221%22.pdf"
        );
        assert!(content_disposition("a.png", "image/png").starts_with("inline;"));
        assert!(content_disposition("a.svg", "image/svg+xml").starts_with("attachment;"));
        assert_eq!(served_content_type("text/html"), "application/octet-stream");
        assert_eq!(served_content_type("image/png"), "image/png");
    }

    #[test]
    fn one_byte_range_is_honoured() {
        assert_eq!(
            parse_range(Some("bytes=0-9"), 100),
            RangeRequest::Partial { start: 0, end: 9 }
        );
        assert_eq!(
            parse_range(Some("bytes=90-"), 100),
            RangeRequest::Partial { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range(Some("bytes=-10"), 100),
            RangeRequest::Partial { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range(Some("bytes=50-1000"), 100),
            RangeRequest::Partial { start: 50, end: 99 }
        );
        assert_eq!(
            parse_range(Some("bytes=100-"), 100),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), RangeRequest::Full);
        assert_eq!(parse_range(Some("items=0-1"), 100), RangeRequest::Full);
        assert_eq!(parse_range(None, 100), RangeRequest::Full);
    }
}
