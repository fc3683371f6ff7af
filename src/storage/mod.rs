//! Attachment bytes in an object store (docs/DESIGN.md#attachment-content), through the `object_store` crate.
//!
//! Content-addressed: a blob lives at `blobs/<sha256>`, once for any number of rows. An upload
//! streams into `uploads/<random>` while it is hashed and counted (memory holds one chunk,
//! never the file), then [`Storage::keep`] gives it its hash's name. Which rows refer to a
//! blob, and when one may be erased, is the database's business (`service::content`).

mod sniff;
mod unfinished;

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, TryStreamExt as _};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt as _, WriteMultipart};
use sha2::Digest as _;

pub use sniff::{misfit, sniff};
use unfinished::Unfinished;

/// Where blobs live under the store's root.
const BLOBS: &str = "blobs";
/// Where uploads land while they stream in.
const UPLOADS: &str = "uploads";
/// Bytes buffered before a part is written to the file store: what an upload holds in memory,
/// at most twice. Small, since files have no smallest part: large buffers allocated and freed
/// in a stream left the allocator holding tens of MiB (bench/content.sh measured it).
const FILE_CHUNK: usize = 256 * 1024;
/// The same for S3, whose parts but the last must be 5 MiB at least.
const S3_CHUNK: usize = 5 * 1024 * 1024;
/// The largest object S3's CopyObject copies in one request.
const S3_LARGEST_COPY: u64 = 5 * 1024 * 1024 * 1024;
/// The first bytes kept for the content-type sniff.
pub const HEAD_BYTES: usize = 512;

/// The object store attachments' bytes live in.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// Where it is, for logs (`file:///srv/keepsake-blobs`).
    label: String,
    /// The part size of uploads.
    chunk: usize,
    /// The folder of a `file://` store. Its uploads' parts in progress are files the
    /// store's listing hides (`uploads/NAME#1`); only a walk of the folder finds those a
    /// crash left.
    local: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Storage({})", self.label)
    }
}

/// An upload streamed into the store under a temporary name, hashed and counted.
#[derive(Debug)]
pub struct Staged {
    temp: Path,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
    /// How many bytes.
    pub size: u64,
    /// The first [`HEAD_BYTES`] bytes (fewer for a shorter file), for the sniff.
    pub head: Vec<u8>,
}

/// Why an upload did not land; whatever it wrote is removed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The body went past the limit.
    #[error("the upload is larger than the limit of {max} bytes")]
    TooLarge { max: u64 },
    /// The client's body broke off (a dropped connection, a bad chunk).
    #[error("the upload was cut off: {0}")]
    Body(String),
    /// The store failed.
    #[error("the object store failed: {0}")]
    Store(#[from] object_store::Error),
}

/// A blob read back: its bytes as a stream, the range they cover and the blob's size.
pub struct Blob {
    pub bytes: futures_util::stream::BoxStream<'static, object_store::Result<Bytes>>,
    pub range: Range<u64>,
    pub size: u64,
}

impl Storage {
    /// The store a `KEEPSAKE_STORAGE` value names: `file://PATH` (created when missing) or
    /// `s3://BUCKET[/PREFIX]`, whose endpoint, region and credentials come from the usual AWS
    /// variables (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, …), then `options`
    /// (object_store's `aws_*` keys), which win.
    pub fn open(url: &str, options: &[(String, String)]) -> anyhow::Result<Storage> {
        if let Some(rest) = url.strip_prefix("s3://") {
            return Self::open_s3(rest, options);
        }
        let Some(path) = url.strip_prefix("file://") else {
            anyhow::bail!(
                "'{url}' is not a storage URL this server can use; write file://PATH (such as \
                 file://keepsake-blobs) or s3://BUCKET/PREFIX"
            );
        };
        if path.is_empty() {
            anyhow::bail!("'{url}' names no folder; write file://PATH");
        }
        std::fs::create_dir_all(path)
            .map_err(|err| anyhow::anyhow!("cannot create the folder {path}: {err}"))?;
        let root = std::fs::canonicalize(path)
            .map_err(|err| anyhow::anyhow!("cannot open the folder {path}: {err}"))?;
        let store = LocalFileSystem::new_with_prefix(&root)?.with_automatic_cleanup(true);
        Ok(Storage {
            store: Arc::new(store),
            label: format!("file://{}", root.display()),
            chunk: FILE_CHUNK,
            local: Some(root),
        })
    }

    fn open_s3(rest: &str, options: &[(String, String)]) -> anyhow::Result<Storage> {
        use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            anyhow::bail!("'s3://{rest}' names no bucket; write s3://BUCKET/PREFIX");
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in options {
            let key: AmazonS3ConfigKey = key
                .parse()
                .map_err(|err| anyhow::anyhow!("storage option {key}: {err}"))?;
            builder = builder.with_config(key, value);
        }
        let s3 = builder.build()?;
        let prefix = prefix.trim_matches('/');
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
        };
        Ok(Storage {
            store,
            label: format!("s3://{rest}"),
            chunk: S3_CHUNK,
            local: None,
        })
    }

    /// The largest upload the store can keep, if it has a limit: S3 gives a blob its name by
    /// CopyObject, which copies at most 5 GiB in one request.
    pub fn largest_upload(&self) -> Option<u64> {
        self.local.is_none().then_some(S3_LARGEST_COPY)
    }

    /// Where the store is, for logs.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn blob_path(sha256: &str) -> Path {
        Path::from(format!("{BLOBS}/{sha256}"))
    }

    /// Streams `body` into the store under a temporary name, hashing and counting it; more
    /// than `max` bytes, a broken body or a store failure removes what was written.
    pub async fn stage<S, E>(&self, body: S, max: u64) -> Result<Staged, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let temp = Path::from(format!("{UPLOADS}/{}", random_name()));
        let upload = self.store.put_multipart(&temp).await?;
        let mut writer = Unfinished {
            writer: Some(WriteMultipart::new_with_chunk_size(upload, self.chunk)),
            store: self.store.clone(),
            temp: temp.clone(),
        };
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        let mut head = Vec::with_capacity(HEAD_BYTES);
        let mut body = std::pin::pin!(body);
        let outcome: Result<(), UploadError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|err| UploadError::Body(err.to_string()))?;
                size += chunk.len() as u64;
                if size > max {
                    return Err(UploadError::TooLarge { max });
                }
                if head.len() < HEAD_BYTES {
                    let take = (HEAD_BYTES - head.len()).min(chunk.len());
                    head.extend_from_slice(&chunk[..take]);
                }
                hasher.update(&chunk);
                writer.put(chunk).await?;
            }
            Ok(())
        }
        .await;
        if let Err(err) = outcome {
            writer.abort().await;
            return Err(err);
        }
        writer.finish().await?;
        Ok(Staged {
            temp,
            sha256: hex(&hasher.finalize()),
            size,
            head,
        })
    }

    /// Gives a staged upload its hash's name, unless a blob of the same bytes is there
    /// already, and removes the temporary name.
    pub async fn keep(&self, staged: &Staged) -> object_store::Result<()> {
        let kept = self.place(staged).await;
        self.discard(staged).await;
        kept
    }

    /// Copies a staged upload to its hash's name unless a blob of the same bytes is there,
    /// keeping the staged one. Done once before the blob's lock is taken, it leaves
    /// [`Storage::keep`] under the lock only a look (a copy on S3 moves the whole file).
    pub async fn place(&self, staged: &Staged) -> object_store::Result<()> {
        let target = Self::blob_path(&staged.sha256);
        match self.store.copy_if_not_exists(&staged.temp, &target).await {
            Ok(()) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
            // S3 has no portable conditional copy; the caller holds the blob's lock, or
            // calls again under it, so looking first is as good.
            Err(
                object_store::Error::NotImplemented { .. }
                | object_store::Error::NotSupported { .. },
            ) => match self.holds(&staged.sha256).await {
                Ok(true) => Ok(()),
                Ok(false) => self.store.copy(&staged.temp, &target).await,
                Err(err) => Err(err),
            },
            Err(err) => Err(err),
        }
    }

    /// Removes a staged upload that will not be kept.
    pub async fn discard(&self, staged: &Staged) {
        if let Err(err) = self.store.delete(&staged.temp).await {
            tracing::warn!(path = %staged.temp, error = %err, "a staged upload stayed behind");
        }
    }

    /// The blob of `sha256`, whole or the bytes of `range` (clamped to its end).
    pub async fn read(
        &self,
        sha256: &str,
        range: Option<Range<u64>>,
    ) -> object_store::Result<Blob> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let got = self
            .store
            .get_opts(&Self::blob_path(sha256), options)
            .await?;
        let (range, size) = (got.range.clone(), got.meta.size);
        Ok(Blob {
            bytes: got.into_stream(),
            range,
            size,
        })
    }

    /// Whether the blob of `sha256` is there.
    pub async fn holds(&self, sha256: &str) -> object_store::Result<bool> {
        match self.store.head(&Self::blob_path(sha256)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Erases the blob of `sha256`, returning its size; one already gone is 0 bytes.
    pub async fn erase(&self, sha256: &str) -> object_store::Result<u64> {
        let path = Self::blob_path(sha256);
        let size = match self.store.head(&path).await {
            Ok(meta) => meta.size,
            Err(object_store::Error::NotFound { .. }) => return Ok(0),
            Err(err) => return Err(err),
        };
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(size),
            Err(err) => Err(err),
        }
    }

    /// Uploads staged longer ago than `age` and never kept: what a crash between an upload's
    /// end and its row's commit leaves (a live upload is seconds old). Their paths.
    pub async fn stale_uploads(
        &self,
        age: std::time::Duration,
    ) -> object_store::Result<Vec<String>> {
        if let Some(root) = &self.local {
            return Ok(stale_files(&root.join(UPLOADS), age));
        }
        let cutoff = chrono::Utc::now() - chrono::Duration::from_std(age).unwrap_or_default();
        let prefix = Path::from(UPLOADS);
        self.store
            .list(Some(&prefix))
            .try_filter(|meta| std::future::ready(meta.last_modified < cutoff))
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
    }

    /// Removes a stale upload [`Storage::stale_uploads`] named.
    pub async fn remove_upload(&self, path: &str) -> object_store::Result<()> {
        let Some(name) = path.strip_prefix(UPLOADS).and_then(|p| p.strip_prefix('/')) else {
            return Ok(());
        };
        if let Some(root) = &self.local {
            if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                return Ok(());
            }
            return match std::fs::remove_file(root.join(UPLOADS).join(name)) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    Err(object_store::Error::Generic {
                        store: "LocalFileSystem",
                        source: err.into(),
                    })
                }
                _ => Ok(()),
            };
        }
        match self.store.delete(&Path::from(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// The hashes of every blob in the store.
    pub async fn blobs(&self) -> object_store::Result<Vec<String>> {
        let prefix = Path::from(BLOBS);
        self.store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location.filename().unwrap_or_default().to_owned())
            .try_collect()
            .await
    }
}

/// The files of a `file://` store's upload folder last written longer ago than `age`, as
/// `uploads/NAME` (parts in progress, `NAME#1`, included).
fn stale_files(folder: &std::path::Path, age: std::time::Duration) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut stale: Vec<String> = entries
        .flatten()
        .filter(|entry| {
            entry.metadata().is_ok_and(|meta| {
                meta.is_file()
                    && meta
                        .modified()
                        .ok()
                        .and_then(|at| at.elapsed().ok())
                        .is_some_and(|elapsed| elapsed > age)
            })
        })
        .map(|entry| format!("{UPLOADS}/{}", entry.file_name().to_string_lossy()))
        .collect();
    stale.sort();
    stale
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A name no other upload has: 16 random bytes in hex.
fn random_name() -> String {
    let mut bytes = [0u8; 16];
    // Without randomness the time and a counter still keep names apart in one process.
    if getrandom::fill(&mut bytes).is_err() {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        bytes[..8].copy_from_slice(&t.to_le_bytes());
        bytes[8..].copy_from_slice(&n.to_le_bytes());
    }
    hex(&bytes)
}

/// Whether `text` is a SHA-256 as [`Staged::sha256`] writes it.
pub fn is_sha256(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
