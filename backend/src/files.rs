//! Where file bytes live. Uploads are always received into the data directory (`uploads/`), so
//! partial bytes survive between the requests of a resumed upload; once complete and verified,
//! a file moves to the configured store: the directory `files/` in the data directory (a rename),
//! or an S3-compatible object store (`object_store`, multipart upload from the local file).
//!
//! Keys are file ids (22 characters of base64url) and `ID.thumb` for previews; no key comes from
//! a client.

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Why the file store failed. Always a server-side problem (answered 500).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("file i/o")]
    Io(#[from] std::io::Error),
    #[error("object store")]
    Object(#[from] object_store::Error),
    #[error("bad --file-store {0:?}: use s3://BUCKET[/PREFIX]")]
    BadUrl(String),
}

/// A stream of file bytes, for a response body.
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// Where complete files are kept.
enum Complete {
    Local { dir: PathBuf },
    Object(Arc<dyn ObjectStore>),
}

/// The file store: a local directory for partial uploads, and the store of complete files.
pub struct FileStorage {
    uploads: PathBuf,
    complete: Complete,
}

impl FileStorage {
    /// Opens the store: `file_store` is `None` for `<data_dir>/files`, or `s3://BUCKET[/PREFIX]`.
    /// Creates the local directories.
    pub fn open(
        data_dir: &Path,
        file_store: Option<&str>,
        endpoint: Option<&str>,
    ) -> Result<Self, StorageError> {
        let uploads = data_dir.join("uploads");
        std::fs::create_dir_all(&uploads)?;
        let complete = match file_store {
            None | Some("") => {
                let dir = data_dir.join("files");
                std::fs::create_dir_all(&dir)?;
                Complete::Local { dir }
            }
            Some(url) => {
                let rest = url
                    .strip_prefix("s3://")
                    .ok_or_else(|| StorageError::BadUrl(url.to_owned()))?;
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(StorageError::BadUrl(url.to_owned()));
                }
                let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
                if let Some(endpoint) = endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                let s3 = builder.build()?;
                let prefix = prefix.trim_matches('/');
                let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, prefix))
                };
                Complete::Object(store)
            }
        };
        Ok(Self { uploads, complete })
    }

    /// The local file that receives the bytes of an upload in progress.
    pub fn partial_path(&self, key: &str) -> PathBuf {
        self.uploads.join(key)
    }

    /// The directory of partial uploads (for the orphan sweep).
    pub fn uploads_dir(&self) -> &Path {
        &self.uploads
    }

    /// Moves a complete, verified upload from its partial file into the store under `key`.
    pub async fn commit(&self, key: &str, partial: &Path) -> Result<(), StorageError> {
        match &self.complete {
            Complete::Local { dir } => {
                tokio::fs::rename(partial, dir.join(key)).await?;
            }
            Complete::Object(store) => {
                let upload = store.put_multipart(&ObjectPath::from(key)).await?;
                let mut writer = WriteMultipart::new(upload);
                let mut file = tokio::fs::File::open(partial).await?;
                let mut buffer = vec![0u8; 1 << 20];
                loop {
                    let n = file.read(&mut buffer).await?;
                    if n == 0 {
                        break;
                    }
                    writer.wait_for_capacity(4).await?;
                    writer.write(&buffer[..n]);
                }
                writer.finish().await?;
                tokio::fs::remove_file(partial).await?;
            }
        }
        Ok(())
    }

    /// Stores a small object (a thumbnail) whole.
    pub async fn put_small(&self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        match &self.complete {
            Complete::Local { dir } => {
                let tmp = dir.join(format!("{key}.tmp"));
                tokio::fs::write(&tmp, &bytes).await?;
                tokio::fs::rename(&tmp, dir.join(key)).await?;
            }
            Complete::Object(store) => {
                store
                    .put(&ObjectPath::from(key), PutPayload::from(bytes))
                    .await?;
            }
        }
        Ok(())
    }

    /// A small object (a thumbnail), whole.
    pub async fn get_small(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        match &self.complete {
            Complete::Local { dir } => Ok(tokio::fs::read(dir.join(key)).await?),
            Complete::Object(store) => Ok(store
                .get(&ObjectPath::from(key))
                .await?
                .bytes()
                .await?
                .to_vec()),
        }
    }

    /// Bytes `start..end` of the complete object `key`, streamed.
    pub async fn read(&self, key: &str, start: u64, end: u64) -> Result<ByteStream, StorageError> {
        match &self.complete {
            Complete::Local { dir } => Ok(read_local(&dir.join(key), start, end).await?),
            Complete::Object(store) => {
                if start >= end {
                    return Ok(futures_util::stream::empty().boxed());
                }
                let options = GetOptions::new().with_range(Some(GetRange::Bounded(start..end)));
                let result = store.get_opts(&ObjectPath::from(key), options).await?;
                Ok(result.into_stream().map_err(std::io::Error::other).boxed())
            }
        }
    }

    /// Deletes a complete object; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match &self.complete {
            Complete::Local { dir } => remove_if_exists(&dir.join(key)).await?,
            Complete::Object(store) => match store.delete(&ObjectPath::from(key)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            },
        }
        Ok(())
    }
}

/// Bytes `start..end` of a local file, streamed in 64 KB chunks.
pub async fn read_local(path: &Path, start: u64, end: u64) -> Result<ByteStream, std::io::Error> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(SeekFrom::Start(start)).await?;
    let limited = file.take(end.saturating_sub(start));
    Ok(tokio_util::io::ReaderStream::with_capacity(limited, 64 * 1024).boxed())
}

/// Removes a file; a missing one is not an error.
pub async fn remove_if_exists(path: &Path) -> Result<(), std::io::Error> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
