//! The layout of the data dir: every path the appliance writes lives here.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Opens (creating if needed) the data dir and checks it is writable.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create data dir {}", root.display()))?;
        let root = root
            .canonicalize()
            .with_context(|| format!("cannot resolve data dir {}", root.display()))?;
        let probe = root.join(".write-probe");
        std::fs::write(&probe, b"ok").with_context(|| {
            format!(
                "data dir {} is not writable (set --data-dir or STRATAMAKE_DATA_DIR)",
                root.display()
            )
        })?;
        std::fs::remove_file(&probe).ok();
        if root.starts_with("/tmp") {
            tracing::warn!(
                data_dir = %root.display(),
                "the data dir is under /tmp and may be wiped at reboot"
            );
        }
        let dir = Self { root };
        let outbox = dir.mail_outbox_dir();
        std::fs::create_dir_all(&outbox)
            .with_context(|| format!("cannot create {}", outbox.display()))?;
        if !dir.root.is_dir() {
            bail!("data dir {} is not a folder", dir.root.display());
        }
        Ok(dir)
    }

    /// The layout of a data dir already opened (no checks, nothing created).
    pub fn of(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn database(&self) -> PathBuf {
        self.root.join("stratamake.db")
    }

    /// The content-addressed file store.
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// The full-text search index (generations `gen-N/` and the `CURRENT` pointer).
    pub fn index_dir(&self) -> PathBuf {
        self.root.join("index")
    }

    /// Installed models, one folder per model id.
    pub fn models_dir(&self) -> PathBuf {
        self.root.join("models")
    }

    /// Data exports waiting to be downloaded (`<id>.zip`, `<id>.zip.partial` while
    /// being written).
    pub fn exports_dir(&self) -> PathBuf {
        self.root.join("exports")
    }

    /// Where mails go as `.eml` files when no SMTP server is configured.
    pub fn mail_outbox_dir(&self) -> PathBuf {
        self.root.join("mail").join("outbox")
    }
}
