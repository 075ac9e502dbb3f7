//! Files (seed 000, DESIGN 7 "async files"): reserve a file, send its message at once, upload
//! after. Uploads resume from the bytes received; the last byte triggers the SHA-256 check, the
//! thumbnail of an image, the move into the file store and `file_ready` to everyone the file
//! was sent to. Downloads go to the uploader and to members of those conversations only.
//! Uploads nobody completes expire.

use super::{AppState, ServiceError, now_millis};
use crate::domain::files::{
    self as rules, FileRuleError, RangeRequest, is_previewable_image, new_file_id, parse_file_id,
};
use crate::files::{ByteStream, FileStorage, StorageError, read_local, remove_if_exists};
use crate::store::files::{CreateFile, FileRow};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use shared::files::{Attachment, FileCreated, FileFailure, FileId, FileInfo, FileState, NewFile};
use shared::{ConversationId, ErrorCode, Seq, UserId};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Bytes received between two durable checkpoints of a long upload (fsync and `received`).
const CHECKPOINT_BYTES: u64 = 8 << 20;
/// Longest side of a thumbnail, in pixels.
const THUMBNAIL_SIDE: u32 = 256;

/// The file store and the uploads running on this node.
pub struct Files {
    pub storage: FileStorage,
    active: Mutex<HashSet<FileId>>,
}

/// This node is receiving the bytes of a file; dropped when it stops.
pub struct Claim {
    files: Arc<Files>,
    id: FileId,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Ok(mut active) = self.files.active.lock() {
            active.remove(&self.id);
        }
    }
}

impl Files {
    pub fn new(storage: FileStorage) -> Self {
        Self {
            storage,
            active: Mutex::default(),
        }
    }

    /// Claims `id` for one upload at a time; `None` while another one runs.
    fn claim(self: &Arc<Self>, id: &FileId) -> Option<Claim> {
        let mut active = self.active.lock().ok()?;
        active.insert(id.clone()).then(|| Claim {
            files: Arc::clone(self),
            id: id.clone(),
        })
    }

    fn is_active(&self, id: &FileId) -> bool {
        self.active.lock().map(|a| a.contains(id)).unwrap_or(true)
    }
}

fn not_found() -> ServiceError {
    ServiceError::refused(ErrorCode::FileNotFound, "no such file")
}

fn closed(state: FileState) -> ServiceError {
    let message = match state {
        FileState::Ready => "the file is complete; no more bytes are accepted",
        _ => "the upload failed; upload the file again as a new file",
    };
    ServiceError::refused(ErrorCode::UploadClosed, message)
}

/// `POST /api/files`: a new file record in state `uploading`.
pub async fn create(
    state: &AppState,
    uid: UserId,
    request: NewFile,
) -> Result<FileCreated, ServiceError> {
    let file =
        rules::parse_new_file(request, state.config.max_file_bytes).map_err(|e| match e {
            FileRuleError::Invalid(message) => {
                ServiceError::refused(ErrorCode::InvalidFile, message)
            }
            FileRuleError::TooLarge { .. } => {
                ServiceError::refused(ErrorCode::FileTooLarge, e.to_string())
            }
        })?;
    let id = new_file_id(rand::random());
    let created = state
        .store
        .create_file(
            &id,
            uid,
            &file,
            state.config.max_pending_uploads,
            now_millis(),
        )
        .await?;
    match created {
        CreateFile::Created(row) => {
            tracing::debug!(uid = %uid, file = %id, size = file.size, "file created");
            Ok(FileCreated {
                upload_url: format!("/api/files/{id}/content"),
                file: row.info,
            })
        }
        CreateFile::TooManyPending(n) => Err(ServiceError::refused(
            ErrorCode::TooManyUploads,
            format!(
                "{n} of your uploads are still pending; complete them or wait until they expire"
            ),
        )),
    }
}

/// The file, if `uid` may see it: its uploader, or a member of a conversation it was sent in.
/// Everyone else gets `file_not_found`, whether it exists or not.
async fn visible(state: &AppState, uid: UserId, raw_id: &str) -> Result<FileRow, ServiceError> {
    let id = parse_file_id(raw_id).ok_or_else(not_found)?;
    let row = state.store.file(&id).await?.ok_or_else(not_found)?;
    if row.info.uploader == uid || state.store.file_shared_with(&id, uid).await? {
        Ok(row)
    } else {
        Err(not_found())
    }
}

/// `GET /api/files/{id}`.
pub async fn info(state: &AppState, uid: UserId, raw_id: &str) -> Result<FileInfo, ServiceError> {
    Ok(visible(state, uid, raw_id).await?.info)
}

/// `PUT /api/files/{id}/content`: appends `body` at `offset`, which must be the bytes received
/// so far. Only the uploader uploads. The bytes are received by a task of their own, so that an
/// interrupted request still records what arrived.
pub async fn upload<S, E>(
    state: &AppState,
    uid: UserId,
    raw_id: &str,
    offset: u64,
    content_length: Option<u64>,
    body: S,
) -> Result<FileInfo, ServiceError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let id = parse_file_id(raw_id).ok_or_else(not_found)?;
    let row = state
        .store
        .file(&id)
        .await?
        .filter(|row| row.info.uploader == uid)
        .ok_or_else(not_found)?;
    if row.info.state != FileState::Uploading {
        return Err(closed(row.info.state));
    }
    let claim = state.files.claim(&id).ok_or_else(|| {
        ServiceError::refused(
            ErrorCode::UploadOffsetMismatch,
            "another upload of this file is running; ask GET /api/files/{id} for its offset",
        )
    })?;
    let partial = state.files.storage.partial_path(&row.storage_key);
    let received = reconcile(state, &row, &partial).await?;
    if offset != received {
        return Err(ServiceError::refused(
            ErrorCode::UploadOffsetMismatch,
            format!("the upload is at byte {received}; send Upload-Offset: {received}"),
        ));
    }
    if content_length.is_some_and(|len| offset.saturating_add(len) > row.info.size) {
        fail(state, &id, &partial, FileFailure::SizeMismatch).await?;
        return Err(size_lie(row.info.size));
    }
    let task = tokio::spawn(receive(state.clone(), row, partial, received, body, claim));
    task.await
        .map_err(|e| StorageError::Io(std::io::Error::other(e)))?
}

fn size_lie(size: u64) -> ServiceError {
    ServiceError::refused(
        ErrorCode::SizeMismatch,
        format!("more bytes than the declared size ({size}); the upload failed"),
    )
}

/// The bytes of an upload that are durable: what the record says, unless the partial file holds
/// less (an OS crash, or another node received them). Bytes past the record are cut.
async fn reconcile(state: &AppState, row: &FileRow, partial: &Path) -> Result<u64, ServiceError> {
    let on_disk = match tokio::fs::metadata(partial).await {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(StorageError::Io(e).into()),
    };
    let durable = row.info.received.min(on_disk);
    if on_disk > durable {
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(partial)
            .await
            .map_err(StorageError::Io)?;
        file.set_len(durable).await.map_err(StorageError::Io)?;
    }
    if durable != row.info.received {
        state
            .store
            .set_file_received(&row.info.id, durable, now_millis())
            .await?;
    }
    Ok(durable)
}

/// Fails an upload for good and deletes its partial bytes.
async fn fail(
    state: &AppState,
    id: &FileId,
    partial: &Path,
    failure: FileFailure,
) -> Result<(), ServiceError> {
    state.store.fail_file(id, failure, now_millis()).await?;
    remove_if_exists(partial).await.map_err(StorageError::Io)?;
    tracing::info!(file = %id, failure = ?failure, "upload failed");
    Ok(())
}

async fn receive<S, E>(
    state: AppState,
    row: FileRow,
    partial: PathBuf,
    start: u64,
    mut body: S,
    _claim: Claim,
) -> Result<FileInfo, ServiceError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let id = &row.info.id;
    let size = row.info.size;
    let io = |e: std::io::Error| ServiceError::from(StorageError::Io(e));
    let file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&partial)
        .await
        .map_err(io)?;
    let mut writer = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    // One request from the first byte to the last hashes as it goes; a resumed upload re-reads
    // the file at the end.
    let mut hasher = (start == 0).then(Sha256::new);
    let mut received = start;
    let mut since_checkpoint = 0;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                tracing::debug!(file = %id, received, error = %e, "upload interrupted");
                break;
            }
        };
        if received + chunk.len() as u64 > size {
            drop(writer);
            fail(&state, id, &partial, FileFailure::SizeMismatch).await?;
            return Err(size_lie(size));
        }
        writer.write_all(&chunk).await.map_err(io)?;
        if let Some(hasher) = hasher.as_mut() {
            hasher.update(&chunk);
        }
        received += chunk.len() as u64;
        since_checkpoint += chunk.len() as u64;
        if since_checkpoint >= CHECKPOINT_BYTES && received < size {
            writer.flush().await.map_err(io)?;
            writer.get_ref().sync_data().await.map_err(io)?;
            state
                .store
                .set_file_received(id, received, now_millis())
                .await?;
            since_checkpoint = 0;
        }
    }
    writer.flush().await.map_err(io)?;
    writer.get_ref().sync_data().await.map_err(io)?;
    drop(writer);
    if received < size {
        if !state
            .store
            .set_file_received(id, received, now_millis())
            .await?
        {
            // Expired while the bytes arrived.
            remove_if_exists(&partial).await.map_err(io)?;
            return Err(closed(FileState::Failed));
        }
        return Ok(FileInfo {
            received,
            ..row.info
        });
    }
    let digest = match hasher {
        Some(hasher) => hex::encode(hasher.finalize()),
        None => hash_file(partial.clone()).await?,
    };
    if digest != row.info.sha256 {
        fail(&state, id, &partial, FileFailure::ChecksumMismatch).await?;
        return Err(ServiceError::refused(
            ErrorCode::ChecksumMismatch,
            "the bytes do not match the declared sha256; the upload failed",
        ));
    }
    finish(&state, &row, &partial).await
}

/// A complete, verified upload: thumbnail, move into the store, `ready`, `file_ready`.
async fn finish(state: &AppState, row: &FileRow, partial: &Path) -> Result<FileInfo, ServiceError> {
    let id = &row.info.id;
    let thumbnail = if is_previewable_image(&row.info.mime) {
        make_thumbnail(partial.to_path_buf(), row.info.mime.clone()).await
    } else {
        None
    };
    let thumb_key = format!("{}.thumb", row.storage_key);
    let storage = &state.files.storage;
    if let Some((bytes, _)) = &thumbnail {
        storage.put_small(&thumb_key, bytes.clone()).await?;
    }
    // Expired at the last moment? Then keep nothing.
    let still_uploading = state
        .store
        .file(id)
        .await?
        .is_some_and(|r| r.info.state == FileState::Uploading);
    if !still_uploading {
        remove_if_exists(partial).await.map_err(StorageError::Io)?;
        storage.delete(&thumb_key).await?;
        return Err(closed(FileState::Failed));
    }
    storage.commit(&row.storage_key, partial).await?;
    let thumb = thumbnail
        .as_ref()
        .map(|(_, mime)| (thumb_key.as_str(), *mime));
    match state.store.complete_file(id, thumb, now_millis()).await? {
        Some(done) => {
            state.notifier.wake(&done.woken);
            tracing::info!(file = %id, size = row.info.size, "upload complete");
            Ok(done.file.info)
        }
        None => {
            storage.delete(&row.storage_key).await?;
            storage.delete(&thumb_key).await?;
            Err(closed(FileState::Failed))
        }
    }
}

/// SHA-256 of a local file, hex, computed off the async runtime.
async fn hash_file(path: PathBuf) -> Result<String, ServiceError> {
    let digest = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        use std::io::Read;
        let mut file = std::fs::File::open(path)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                return Ok(hex::encode(hasher.finalize()));
            }
            hasher.update(&buffer[..n]);
        }
    })
    .await
    .map_err(|e| StorageError::Io(std::io::Error::other(e)))?;
    Ok(digest.map_err(StorageError::Io)?)
}

/// A preview of at most 256x256 pixels (JPEG for JPEG photos, PNG otherwise), made off the
/// async runtime. `None` when the image does not decode (it is still delivered as a file).
async fn make_thumbnail(path: PathBuf, mime: String) -> Option<(Vec<u8>, &'static str)> {
    let made = tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, &'static str), String> {
        let mut reader = image::ImageReader::open(&path)
            .and_then(|r| r.with_guessed_format())
            .map_err(|e| e.to_string())?;
        // Decompression bombs: a small file may claim a huge canvas.
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(16_384);
        limits.max_image_height = Some(16_384);
        limits.max_alloc = Some(256 << 20);
        reader.limits(limits);
        let image = reader.decode().map_err(|e| e.to_string())?;
        let thumb = image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE);
        let mut out = std::io::Cursor::new(Vec::new());
        if mime == "image/jpeg" {
            image::DynamicImage::ImageRgb8(thumb.to_rgb8())
                .write_to(&mut out, image::ImageFormat::Jpeg)
                .map_err(|e| e.to_string())?;
            Ok((out.into_inner(), "image/jpeg"))
        } else {
            image::DynamicImage::ImageRgba8(thumb.to_rgba8())
                .write_to(&mut out, image::ImageFormat::Png)
                .map_err(|e| e.to_string())?;
            Ok((out.into_inner(), "image/png"))
        }
    })
    .await;
    match made {
        Ok(Ok(thumbnail)) => Some(thumbnail),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "no thumbnail: the image does not decode");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "thumbnail task failed");
            None
        }
    }
}

/// A download, ready to stream.
pub struct Download {
    pub file: FileInfo,
    /// The bytes there are: `size` when ready, the received prefix while uploading.
    pub available: u64,
    pub range: RangeRequest,
    /// The bytes of `range` (empty for an unsatisfiable one).
    pub body: ByteStream,
}

/// `GET /api/files/{id}/content`: the file, or while it uploads the prefix received so far.
pub async fn download(
    state: &AppState,
    uid: UserId,
    raw_id: &str,
    range: Option<&str>,
) -> Result<Download, ServiceError> {
    // A completion may move the partial file between reading the record and opening it: then
    // read the record again.
    for _ in 0..3 {
        let row = visible(state, uid, raw_id).await?;
        let (available, partial) = match row.info.state {
            FileState::Failed => {
                return Err(ServiceError::refused(
                    ErrorCode::FileNotReady,
                    "the upload of this file failed",
                ));
            }
            FileState::Ready => (row.info.size, None),
            FileState::Uploading => {
                let path = state.files.storage.partial_path(&row.storage_key);
                let on_disk = tokio::fs::metadata(&path).await.map_or(0, |m| m.len());
                (row.info.received.min(on_disk), Some(path))
            }
        };
        let range = rules::parse_range(range, available);
        let (start, end) = match range {
            RangeRequest::Full => (0, available),
            RangeRequest::Partial { start, end } => (start, end + 1),
            RangeRequest::Unsatisfiable => (0, 0),
        };
        let body = match &partial {
            None => {
                state
                    .files
                    .storage
                    .read(&row.storage_key, start, end)
                    .await?
            }
            Some(_) if start >= end => futures_util::stream::empty().boxed(),
            Some(path) => match read_local(path, start, end).await {
                Ok(body) => body,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StorageError::Io(e).into()),
            },
        };
        return Ok(Download {
            file: row.info,
            available,
            range,
            body,
        });
    }
    Err(ServiceError::refused(
        ErrorCode::Unavailable,
        "the file is changing; retry",
    ))
}

/// `GET /api/files/{id}/thumbnail`: the preview of a ready image, and its type.
pub async fn thumbnail(
    state: &AppState,
    uid: UserId,
    raw_id: &str,
) -> Result<(Vec<u8>, String), ServiceError> {
    let row = visible(state, uid, raw_id).await?;
    if row.info.state != FileState::Ready {
        return Err(ServiceError::refused(
            ErrorCode::FileNotReady,
            "the preview exists once the upload is complete",
        ));
    }
    let (Some(key), Some(mime)) = (row.thumb_key, row.thumb_mime) else {
        return Err(ServiceError::refused(
            ErrorCode::FileNotFound,
            "this file has no preview",
        ));
    };
    Ok((state.files.storage.get_small(&key).await?, mime))
}

/// Before a file or image message is stored: the uploaded file it refers to must exist, be
/// the sender's, and match the message's name, size and type. Returns the file to link.
pub async fn check_attachment(
    state: &AppState,
    sender: UserId,
    attachment: Option<&Attachment>,
) -> Result<Option<FileId>, ServiceError> {
    let Some(Attachment::Stored(stored)) = attachment else {
        return Ok(None);
    };
    let row = state
        .store
        .file(&stored.file_id)
        .await?
        .filter(|row| row.info.uploader == sender)
        .ok_or_else(|| {
            ServiceError::refused(ErrorCode::UnknownFile, "you uploaded no file with this id")
        })?;
    if row.info.size != stored.size
        || row.info.name != stored.name
        || !row.info.mime.eq_ignore_ascii_case(&stored.mime)
    {
        return Err(ServiceError::refused(
            ErrorCode::InvalidAttachment,
            "name, size and mime must be those of the uploaded file",
        ));
    }
    Ok(Some(row.info.id))
}

/// After a file message was stored (or a retry answered): the file was sent in `conversation`,
/// whose members may now download it (and get `file_ready` at once if it is ready).
pub async fn link(
    state: &AppState,
    file: &FileId,
    conversation: &ConversationId,
    seq: Seq,
) -> Result<(), ServiceError> {
    let woken = state
        .store
        .link_file(file, conversation, seq, now_millis())
        .await?;
    state.notifier.wake(&woken);
    Ok(())
}

/// Every so often (a quarter of `--upload-expiry`, at most 10 minutes), fails uploads older than
/// the expiry and deletes partial bytes nobody will complete.
pub async fn sweep_forever(state: AppState) {
    let every =
        (state.config.upload_expiry / 4).clamp(Duration::from_millis(50), Duration::from_secs(600));
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match sweep(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired uploads cleaned up"),
            Err(e) => tracing::warn!(error = %e, "upload sweep failed"),
        }
    }
}

/// One sweep; returns how many uploads expired.
pub async fn sweep(state: &AppState) -> Result<u64, ServiceError> {
    let expiry = i64::try_from(state.config.upload_expiry.as_millis()).unwrap_or(i64::MAX);
    let before = now_millis().saturating_sub(expiry);
    let mut expired = 0;
    loop {
        let ids = state.store.expired_uploads(before, 100).await?;
        for id in &ids {
            if state
                .store
                .fail_file(id, FileFailure::Expired, now_millis())
                .await?
            {
                expired += 1;
            }
            let partial = state.files.storage.partial_path(&id.0);
            remove_if_exists(&partial).await.map_err(StorageError::Io)?;
        }
        if ids.len() < 100 {
            break;
        }
    }
    // Partial files of this node whose upload is over (failed elsewhere, or left by a crash).
    let mut dir = tokio::fs::read_dir(state.files.storage.uploads_dir())
        .await
        .map_err(StorageError::Io)?;
    while let Some(entry) = dir.next_entry().await.map_err(StorageError::Io)? {
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(parse_file_id) else {
            continue;
        };
        if state.files.is_active(&id) {
            continue;
        }
        let uploading = state
            .store
            .file(&id)
            .await?
            .is_some_and(|row| row.info.state == FileState::Uploading);
        if !uploading {
            remove_if_exists(&entry.path())
                .await
                .map_err(StorageError::Io)?;
        }
    }
    Ok(expired)
}
