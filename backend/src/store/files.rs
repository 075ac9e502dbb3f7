//! File records (`files`) and the conversations they were sent in (`file_links`).
//!
//! Lock order: a transaction that touches a file locks its `files` row first (an UPDATE), and
//! appends events (`users` rows) last, like every other writer.

use super::{Store, StoreError, enum_str, parse_enum};
use crate::domain::files::ValidNewFile;
use shared::files::{FileFailure, FileId, FileInfo, FileState};
use shared::{ConversationId, Event, Millis, Seq, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A file record as the service needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRow {
    pub info: FileInfo,
    pub storage_key: String,
    pub thumb_key: Option<String>,
    pub thumb_mime: Option<String>,
}

/// What creating a file record did.
#[derive(Clone, Debug)]
pub enum CreateFile {
    Created(FileRow),
    /// The uploader already has this many uploads pending; nothing written.
    TooManyPending(i64),
}

/// A completed file: the record, and the users its `file_ready` event went to.
#[derive(Clone, Debug)]
pub struct Completed {
    pub file: FileRow,
    pub woken: Vec<UserId>,
}

const FILE_COLUMNS: &str = "id, uploader, name, size, mime, sha256, state, received, failure, \
     storage_key, thumb_key, thumb_mime, created_at";

fn file_row(r: &AnyRow) -> Result<FileRow, StoreError> {
    let failure: Option<String> = r.try_get("failure")?;
    let thumb_key: Option<String> = r.try_get("thumb_key")?;
    let size: i64 = r.try_get("size")?;
    let received: i64 = r.try_get("received")?;
    Ok(FileRow {
        info: FileInfo {
            id: FileId(r.try_get("id")?),
            name: r.try_get("name")?,
            size: size.max(0) as u64,
            mime: r.try_get("mime")?,
            sha256: r.try_get("sha256")?,
            state: parse_enum(&r.try_get::<String, _>("state")?)?,
            received: received.max(0) as u64,
            failure: failure.map(|f| parse_enum(&f)).transpose()?,
            uploader: UserId(r.try_get("uploader")?),
            time: r.try_get("created_at")?,
            thumbnail: thumb_key.is_some(),
        },
        storage_key: r.try_get("storage_key")?,
        thumb_key,
        thumb_mime: r.try_get("thumb_mime")?,
    })
}

impl Store {
    /// Creates a file record in state `uploading`, unless `uploader` already has `max_pending`
    /// uploads pending.
    pub async fn create_file(
        &self,
        id: &FileId,
        uploader: UserId,
        file: &ValidNewFile,
        max_pending: u32,
        now: Millis,
    ) -> Result<CreateFile, StoreError> {
        let mut tx = self.writer.begin().await?;
        let pending: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM files WHERE uploader = $1 AND state = 'uploading'",
        )
        .bind(uploader.0)
        .fetch_one(&mut *tx)
        .await?;
        if pending >= i64::from(max_pending) {
            return Ok(CreateFile::TooManyPending(pending));
        }
        let row = sqlx::query(&format!(
            "INSERT INTO files (id, uploader, name, size, mime, sha256, state, received, \
                                storage_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'uploading', 0, $1, $7, $7) \
             RETURNING {FILE_COLUMNS}"
        ))
        .bind(&id.0)
        .bind(uploader.0)
        .bind(&file.name)
        .bind(file.size as i64)
        .bind(&file.mime)
        .bind(&file.sha256)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let created = file_row(&row)?;
        tx.commit().await?;
        Ok(CreateFile::Created(created))
    }

    /// A file record by id.
    pub async fn file(&self, id: &FileId) -> Result<Option<FileRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {FILE_COLUMNS} FROM files WHERE id = $1"))
            .bind(&id.0)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| file_row(&r)).transpose()
    }

    /// Records how many bytes of an upload in progress are durable. False when the file is no
    /// longer uploading.
    pub async fn set_file_received(
        &self,
        id: &FileId,
        received: u64,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE files SET received = $1, updated_at = $2 \
             WHERE id = $3 AND state = 'uploading'",
        )
        .bind(received as i64)
        .bind(now)
        .bind(&id.0)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Moves an upload in progress to `failed`. False when it was not uploading.
    pub async fn fail_file(
        &self,
        id: &FileId,
        failure: FileFailure,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE files SET state = 'failed', failure = $1, updated_at = $2 \
             WHERE id = $3 AND state = 'uploading'",
        )
        .bind(enum_str(&failure)?)
        .bind(now)
        .bind(&id.0)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Moves an upload to `ready` and sends `file_ready` to the uploader and to every member of
    /// a conversation it was sent in (whose history includes that message). `None` when the file
    /// was no longer uploading (it expired meanwhile).
    pub async fn complete_file(
        &self,
        id: &FileId,
        thumbnail: Option<(&str, &str)>,
        now: Millis,
    ) -> Result<Option<Completed>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE files SET state = 'ready', received = size, thumb_key = $1, thumb_mime = $2, \
                              updated_at = $3 \
             WHERE id = $4 AND state = 'uploading' RETURNING {FILE_COLUMNS}"
        ))
        .bind(thumbnail.map(|(key, _)| key.to_owned()))
        .bind(thumbnail.map(|(_, mime)| mime.to_owned()))
        .bind(now)
        .bind(&id.0)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let file = file_row(&row)?;
        let members: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT cm.uid FROM file_links fl \
             JOIN conversation_members cm ON cm.conversation = fl.conversation \
             WHERE fl.file_id = $1 AND cm.init_seq < fl.seq",
        )
        .bind(&id.0)
        .fetch_all(&mut *tx)
        .await?;
        let mut uids: Vec<UserId> = members.into_iter().map(UserId).collect();
        uids.push(file.info.uploader);
        uids.sort();
        uids.dedup();
        let events: Vec<(UserId, Event)> = uids
            .iter()
            .map(|uid| {
                (
                    *uid,
                    Event::FileReady {
                        file: file.info.clone(),
                    },
                )
            })
            .collect();
        let woken = self.emit(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok(Some(Completed { file, woken }))
    }

    /// Records that the file was sent in `conversation` at `seq` (idempotent: a retried send
    /// changes nothing). When the link is new and the file is ready already, the members get
    /// `file_ready` at once. Returns the users to wake.
    pub async fn link_file(
        &self,
        id: &FileId,
        conversation: &ConversationId,
        seq: Seq,
        now: Millis,
    ) -> Result<Vec<UserId>, StoreError> {
        let mut tx = self.writer.begin().await?;
        // Lock the file's row first, so that a completion running at the same time either sees
        // this link or is seen by it.
        let row = sqlx::query(&format!(
            "UPDATE files SET updated_at = updated_at WHERE id = $1 RETURNING {FILE_COLUMNS}"
        ))
        .bind(&id.0)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Vec::new());
        };
        let file = file_row(&row)?;
        let known: Option<i64> = sqlx::query_scalar(
            "SELECT seq FROM file_links WHERE file_id = $1 AND conversation = $2",
        )
        .bind(&id.0)
        .bind(&conversation.0)
        .fetch_optional(&mut *tx)
        .await?;
        match known {
            Some(old) if old >= seq.0 => return Ok(Vec::new()),
            Some(_) => {
                sqlx::query(
                    "UPDATE file_links SET seq = $1 WHERE file_id = $2 AND conversation = $3",
                )
                .bind(seq.0)
                .bind(&id.0)
                .bind(&conversation.0)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO file_links (file_id, conversation, seq, created_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&id.0)
                .bind(&conversation.0)
                .bind(seq.0)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        let mut woken = Vec::new();
        if file.info.state == FileState::Ready {
            let members: Vec<i64> = sqlx::query_scalar(
                "SELECT uid FROM conversation_members WHERE conversation = $1 AND init_seq < $2",
            )
            .bind(&conversation.0)
            .bind(seq.0)
            .fetch_all(&mut *tx)
            .await?;
            let events: Vec<(UserId, Event)> = members
                .into_iter()
                .map(|uid| {
                    (
                        UserId(uid),
                        Event::FileReady {
                            file: file.info.clone(),
                        },
                    )
                })
                .collect();
            woken = self.emit(&mut tx, &events, now).await?;
        }
        tx.commit().await?;
        Ok(woken)
    }

    /// Whether `uid` is a member of a conversation the file was sent in, with that message in
    /// their history.
    pub async fn file_shared_with(&self, id: &FileId, uid: UserId) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM file_links fl \
             JOIN conversation_members cm ON cm.conversation = fl.conversation \
             WHERE fl.file_id = $1 AND cm.uid = $2 AND cm.init_seq < fl.seq LIMIT 1",
        )
        .bind(&id.0)
        .bind(uid.0)
        .fetch_optional(&self.reader)
        .await?;
        Ok(found.is_some())
    }

    /// Uploads still in progress that were created before `before`, oldest first.
    pub async fn expired_uploads(
        &self,
        before: Millis,
        limit: u32,
    ) -> Result<Vec<FileId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM files WHERE state = 'uploading' AND created_at < $1 \
             ORDER BY created_at LIMIT $2",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        Ok(ids.into_iter().map(FileId).collect())
    }
}
