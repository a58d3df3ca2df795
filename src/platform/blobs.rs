//! The content-addressed file store: `data/blobs/sha256/ab/cd/<64 hex>`.
//!
//! A write streams into a temporary file in the same filesystem while hashing, so any
//! size takes constant memory; the file is fsynced, renamed into place and its folder
//! fsynced. A blob is never visible under its hash unless complete; leftovers of an
//! interrupted write are removed at start. Identical bytes are stored once. Which
//! blobs are referenced is the database's business, not the store's.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::mpsc::{Sender, channel};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::tokens::new_id;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the upload is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("reading the upload failed: {0}")]
    Read(std::io::Error),
    #[error("file store: {0}")]
    Io(#[from] std::io::Error),
}

/// A complete file in the temporary area, hashed, not yet in the store.
#[derive(Debug)]
pub struct StagedBlob {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
}

impl StagedBlob {
    /// Removes the staged file (a refused upload leaves nothing behind).
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
}

const CHUNK: usize = 256 * 1024;

fn valid_hash(hash: &str) -> bool {
    hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// How long a duplicate upload's temp file waits before it is deleted: freeing its disk
/// blocks goes into the next filesystem journal commit, which must not be the one the
/// upload's own database commit waits for.
const DISCARD_DELAY: Duration = Duration::from_secs(2);

/// Deletes files `DISCARD_DELAY` after they are handed over, on one background thread (at
/// once if it cannot run). A crash before then leaves temp files the next start removes.
fn discard_later(path: PathBuf) {
    /// Paths with the time they may go; `None` when the thread could not start.
    type DiscardQueue = Option<Sender<(Instant, PathBuf)>>;
    static QUEUE: OnceLock<DiscardQueue> = OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (sender, receiver) = channel::<(Instant, PathBuf)>();
        std::thread::Builder::new()
            .name("blob-discard".into())
            .spawn(move || {
                for (due, path) in receiver {
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    let _ = std::fs::remove_file(path);
                }
            })
            .ok()
            .map(|_| sender)
    });
    let sent = queue.as_ref().is_some_and(|sender| {
        sender
            .send((Instant::now() + DISCARD_DELAY, path.clone()))
            .is_ok()
    });
    if !sent {
        let _ = std::fs::remove_file(path);
    }
}

impl BlobStore {
    /// Opens the store under `root` (`data/blobs`) and removes unfinished writes.
    pub fn open(root: PathBuf) -> std::io::Result<Self> {
        let store = Self { root };
        std::fs::create_dir_all(store.objects())?;
        std::fs::create_dir_all(store.quarantine())?;
        let tmp = store.tmp();
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        Ok(store)
    }

    fn objects(&self) -> PathBuf {
        self.root.join("sha256")
    }

    fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Where corrupt blobs found by `fsck` are moved.
    pub fn quarantine(&self) -> PathBuf {
        self.root.join("quarantine")
    }

    /// The path of a blob (it may not exist). `None` for a string that is not a hash.
    pub fn path(&self, hash: &str) -> Option<PathBuf> {
        valid_hash(hash).then(|| {
            self.objects()
                .join(&hash[0..2])
                .join(&hash[2..4])
                .join(hash)
        })
    }

    pub fn contains(&self, hash: &str) -> bool {
        self.path(hash).is_some_and(|p| p.is_file())
    }

    /// Streams `reader` into the temporary area, hashing as it goes; refuses more than
    /// `limit` bytes.
    pub async fn stage<R: AsyncRead + Unpin>(
        &self,
        mut reader: R,
        limit: u64,
    ) -> Result<StagedBlob, BlobError> {
        let path = self.tmp().join(new_id());
        let mut file = tokio::fs::File::create(&path).await?;
        let outcome = async {
            let mut hasher = Sha256::new();
            let mut size: u64 = 0;
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = reader.read(&mut buf).await.map_err(BlobError::Read)?;
                if n == 0 {
                    break;
                }
                size += n as u64;
                if size > limit {
                    return Err(BlobError::TooLarge { limit });
                }
                hasher.update(&buf[..n]);
                tokio::io::AsyncWriteExt::write_all(&mut file, &buf[..n]).await?;
            }
            file.sync_all().await?;
            Ok((hex::encode(hasher.finalize()), size))
        }
        .await;
        match outcome {
            Ok((sha256, size)) => Ok(StagedBlob { path, sha256, size }),
            Err(error) => {
                let _ = tokio::fs::remove_file(&path).await;
                Err(error)
            }
        }
    }

    /// Stages bytes already in memory (thumbnails, generated files).
    pub fn stage_bytes(&self, bytes: &[u8]) -> Result<StagedBlob, BlobError> {
        let path = self.tmp().join(new_id());
        let mut file = std::fs::File::create(&path)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        Ok(StagedBlob {
            path,
            sha256: hex::encode(Sha256::digest(bytes)),
            size: bytes.len() as u64,
        })
    }

    /// Moves a staged file into the store under its hash (replacing the identical file
    /// when the bytes are already stored) and makes the rename durable.
    pub fn commit(&self, staged: StagedBlob) -> Result<String, BlobError> {
        let target = self
            .path(&staged.sha256)
            .expect("a SHA-256 is a valid hash");
        let dir = target.parent().expect("blob paths have a folder");
        std::fs::create_dir_all(dir)?;
        // The time an upload takes must not tell whether someone else had the file, so
        // both cases do the same work: one rename and one folder sync. Freeing a
        // duplicate's disk blocks costs journal work a new file does not need, so that
        // happens later, off the request path.
        if target.is_file() {
            let aside = staged.path.with_extension("duplicate");
            std::fs::rename(&staged.path, &aside)?;
            sync_dir(dir)?;
            discard_later(aside);
        } else {
            std::fs::rename(&staged.path, &target)?;
            sync_dir(dir)?;
        }
        Ok(staged.sha256)
    }

    /// Removes a blob file (the caller made sure nothing refers to it).
    pub fn remove(&self, hash: &str) -> std::io::Result<()> {
        match self.path(hash) {
            Some(path) => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// Every stored hash (walks the folders).
    pub fn list(&self) -> std::io::Result<Vec<String>> {
        let mut hashes = Vec::new();
        for a in std::fs::read_dir(self.objects())? {
            for b in std::fs::read_dir(a?.path())? {
                for file in std::fs::read_dir(b?.path())? {
                    let name = file?.file_name().to_string_lossy().to_string();
                    if valid_hash(&name) {
                        hashes.push(name);
                    }
                }
            }
        }
        Ok(hashes)
    }

    /// Re-hashes a blob; `Ok(false)` when its content no longer matches its name.
    pub fn verify(&self, hash: &str) -> std::io::Result<bool> {
        let path = self
            .path(hash)
            .ok_or_else(|| std::io::Error::other("not a hash"))?;
        let mut file = std::fs::File::open(path)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = std::io::Read::read(&mut file, &mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hex::encode(hasher.finalize()) == hash)
    }

    /// Moves a corrupt blob out of the store, keeping it for inspection.
    pub fn quarantine_blob(&self, hash: &str) -> std::io::Result<PathBuf> {
        let from = self
            .path(hash)
            .ok_or_else(|| std::io::Error::other("not a hash"))?;
        let to = self.quarantine().join(format!("{hash}.{}", new_id()));
        std::fs::rename(from, &to)?;
        Ok(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_once_under_the_hash_and_cleans_temp_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().join("blobs")).unwrap();
        let a = store.stage(&b"hello"[..], 100).await.unwrap();
        let b = store.stage(&b"hello"[..], 100).await.unwrap();
        let hash = store.commit(a).unwrap();
        assert_eq!(
            hash,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(store.commit(b).unwrap(), hash);
        assert_eq!(store.list().unwrap(), vec![hash.clone()]);
        // The duplicate's temp file is deleted in the background, a little later.
        for _ in 0..1000 {
            if std::fs::read_dir(store.tmp()).unwrap().count() == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(store.verify(&hash).unwrap());
        assert!(matches!(
            store.stage(&[0u8; 10][..], 5).await,
            Err(BlobError::TooLarge { .. })
        ));
        assert_eq!(
            std::fs::read_dir(store.tmp()).unwrap().count(),
            0,
            "refused writes leave nothing"
        );
        std::fs::write(store.tmp().join("leftover"), b"x").unwrap();
        let store = BlobStore::open(dir.path().join("blobs")).unwrap();
        assert_eq!(std::fs::read_dir(store.tmp()).unwrap().count(), 0);
        assert!(store.path("../../etc/passwd").is_none());
    }
}
