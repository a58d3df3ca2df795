//! The one `Config` of the appliance and how it is assembled.
//!
//! Precedence, lowest first: built-in defaults < TOML file (`--config`, else
//! `/etc/stratamake/config.toml` when it exists) < `STRATAMAKE_*` environment variables
//! < command-line flags. Nested keys use a double underscore in the environment
//! (`STRATAMAKE_SMTP__HOST`). Unknown keys and wrong values stop the start with a
//! message that names the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

pub const DEFAULT_CONFIG_FILE: &str = "/etc/stratamake/config.toml";
const ENV_PREFIX: &str = "STRATAMAKE_";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Folder that holds the database, files and mail outbox.
    pub data_dir: PathBuf,
    /// URL users reach the appliance at; links in mails are built from it.
    /// Empty means `http://<listen>`.
    pub public_url: String,
    /// Name shown in the UI and in mails.
    pub instance_name: String,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// Peers whose `X-Forwarded-For` is believed (CIDR list).
    pub trusted_proxies: Vec<IpNet>,
    /// Largest accepted JSON request body, in bytes.
    pub max_body_bytes: usize,
    pub auth: AuthConfig,
    pub storage: StorageConfig,
    pub generation: GenerationConfig,
    pub community: CommunityConfig,
    pub privacy: PrivacyConfig,
    pub smtp: SmtpConfig,
    /// OpenID Connect providers users may sign in with.
    pub oidc: Vec<OidcProviderConfig>,
    /// Seconds the application clock runs ahead of the system clock; only from the
    /// hidden `--clock-offset` flag, never from a file or the environment.
    #[serde(skip)]
    pub clock_offset_seconds: i64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Lifetime of an access token (JWT), seconds.
    pub access_token_seconds: i64,
    /// Absolute lifetime of a session (refresh-token family), seconds.
    pub session_lifetime_seconds: i64,
    /// Difficulty of the signup proof of work: the largest number a browser may try.
    pub pow_max_number: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Largest accepted upload, in bytes.
    pub max_upload_bytes: u64,
    /// Default storage quota per user, in bytes (admins can override per user).
    pub default_quota_bytes: u64,
    /// How long an unreferenced file is kept before it is deleted, in seconds.
    pub gc_grace_seconds: i64,
    /// Most triangles accepted in an uploaded 3D file (at most the mesh reader's limit,
    /// 5,000,000: every upload is read to measure and picture it).
    pub max_triangles: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            max_upload_bytes: 2 * 1024 * 1024 * 1024,
            default_quota_bytes: 10 * 1024 * 1024 * 1024,
            gc_grace_seconds: 24 * 3600,
            max_triangles: crate::engines::mesh::read::MAX_TRIANGLES as u64,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommunityConfig {
    /// For how many hours after signing up an account gets the stricter rate limits on
    /// posting, commenting, reacting and following.
    pub new_account_hours: i64,
}

impl Default for CommunityConfig {
    fn default() -> Self {
        Self {
            new_account_hours: 24,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// Where people write about their data and this site (an email address or a short
    /// sentence), named in the policies; empty says "the administrators of <instance>".
    pub contact: String,
    /// Days between a deletion request and the purge (the person can cancel until then).
    pub deletion_grace_days: i64,
    /// Days a data export can be downloaded.
    pub export_days: i64,
    /// Data exports one person may request a day.
    pub exports_per_day: u32,
    /// Record usage analytics (page views, features, API requests per person per day).
    pub analytics: bool,
    /// Days client addresses are kept whole before being shortened to /24 (IPv4) or
    /// /48 (IPv6).
    pub analytics_full_ip_days: i64,
    /// Days usage records are kept at all.
    pub analytics_retention_days: i64,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            contact: String::new(),
            deletion_grace_days: 30,
            export_days: 7,
            exports_per_day: 3,
            analytics: true,
            analytics_full_ip_days: 7,
            analytics_retention_days: 365,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenerationConfig {
    /// Path of `libonnxruntime.so`; empty searches beside the binary, in the data dir
    /// and in an installed `onnxruntime` wheel (`stratamake doctor` shows where).
    pub onnxruntime_library: String,
    /// `auto` (CUDA when available, else CPU), `cpu`, `cuda` or `tensorrt`.
    pub execution_provider: crate::engines::onnx::ProviderChoice,
    /// Threads inside one operator; 0 = one per core.
    pub intra_threads: usize,
    /// Threads across operators; 0 = ONNX Runtime's choice.
    pub inter_threads: usize,
    /// Jobs run at the same time (one per device).
    pub workers: usize,
    /// Memory loaded models may use together, MiB; the least recently used is unloaded.
    pub model_memory_mb: u64,
    /// Queued and running jobs one user may have at once.
    pub max_queued_per_user: i64,
    /// Credits a new account starts with.
    pub starting_credits: i64,
    /// Credits a 3D model costs (prompt to 3D adds the image model's cost).
    pub mesh_credit_cost: i64,
    /// Offers models marked `test_only` (random weights) to users; for the project's
    /// own tests, never for a real instance.
    pub allow_test_models: bool,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        Self {
            onnxruntime_library: String::new(),
            execution_provider: crate::engines::onnx::ProviderChoice::Auto,
            intra_threads: 0,
            inter_threads: 0,
            workers: 1,
            model_memory_mb: 8192,
            max_queued_per_user: 8,
            starting_credits: 100,
            mesh_credit_cost: 1,
            allow_test_models: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// SMTP server host; empty writes mails as `.eml` files into `data/mail/outbox/`.
    pub host: String,
    pub port: u16,
    /// `starttls`, `tls` (implicit TLS) or `none` (plain, loopback only).
    pub security: SmtpSecurity,
    pub username: String,
    pub password: String,
    /// Sender, e.g. `StrataMake <noreply@example.org>`.
    pub from: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProviderConfig {
    /// Short id used in URLs, e.g. `google`.
    pub id: String,
    /// Label on the sign-in button.
    pub name: String,
    /// Issuer URL; `<issuer>/.well-known/openid-configuration` is read at start.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            public_url: String::new(),
            instance_name: "StrataMake".into(),
            log_format: LogFormat::Text,
            trusted_proxies: Vec::new(),
            max_body_bytes: 1024 * 1024,
            auth: AuthConfig::default(),
            storage: StorageConfig::default(),
            generation: GenerationConfig::default(),
            community: CommunityConfig::default(),
            privacy: PrivacyConfig::default(),
            smtp: SmtpConfig::default(),
            oidc: Vec::new(),
            clock_offset_seconds: 0,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            access_token_seconds: 15 * 60,
            session_lifetime_seconds: 30 * 24 * 3600,
            pow_max_number: 50_000,
        }
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            security: SmtpSecurity::Starttls,
            username: String::new(),
            password: String::new(),
            from: "StrataMake <noreply@localhost>".into(),
        }
    }
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Default, Clone)]
pub struct FlagOverrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub public_url: Option<String>,
    pub log_format: Option<String>,
    pub clock_offset_seconds: Option<i64>,
}

impl Config {
    /// Assembles the effective configuration from all four sources.
    pub fn load(flags: &FlagOverrides) -> anyhow::Result<Self> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(flags, &env)
    }

    fn load_from(flags: &FlagOverrides, env: &[(String, String)]) -> anyhow::Result<Self> {
        let mut table = Table::try_from(Config::default()).context("serializing defaults")?;
        let file = match &flags.config_file {
            Some(path) => Some(path.clone()),
            None => {
                let from_env = env.iter().find(|(k, _)| k == "STRATAMAKE_CONFIG");
                match from_env {
                    Some((_, path)) => Some(PathBuf::from(path)),
                    None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.exists()),
                }
            }
        };
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            let from_file: Table = toml::from_str(&text)
                .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
            merge(&mut table, from_file);
        }
        for (key, raw) in env {
            let Some(name) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if matches!(name, "CONFIG" | "LOG") || name.is_empty() {
                continue;
            }
            let path: Vec<String> = name.split("__").map(|p| p.to_ascii_lowercase()).collect();
            set_path(&mut table, &path, parse_env_value(raw))
                .with_context(|| format!("environment variable {key}"))?;
        }
        let flag_values = [
            ("listen", flags.listen.clone()),
            (
                "data_dir",
                flags.data_dir.as_ref().map(|p| p.display().to_string()),
            ),
            ("public_url", flags.public_url.clone()),
            ("log_format", flags.log_format.clone()),
        ];
        for (key, value) in flag_values {
            if let Some(value) = value {
                table.insert(key.into(), Value::String(value));
            }
        }
        let mut config: Config = serde_path_to_error::deserialize(Value::Table(table))
            .map_err(|e| {
                anyhow::anyhow!(
                    "invalid configuration: `{}`: {}",
                    e.path(),
                    e.inner().message()
                )
            })
            .map_err(|e| describe_key_error(e, env))?;
        config.clock_offset_seconds = flags.clock_offset_seconds.unwrap_or(0);
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !self.public_url.is_empty() {
            let url = url::Url::parse(&self.public_url)
                .with_context(|| format!("public_url {:?} is not a URL", self.public_url))?;
            if url.scheme() != "http" && url.scheme() != "https" {
                bail!("public_url must start with http:// or https://");
            }
        }
        let privacy = &self.privacy;
        if privacy.deletion_grace_days < 0 || privacy.export_days < 1 {
            bail!(
                "privacy.deletion_grace_days must be 0 or more and privacy.export_days 1 or more"
            );
        }
        if privacy.analytics_full_ip_days < 0
            || privacy.analytics_retention_days < privacy.analytics_full_ip_days
        {
            bail!(
                "privacy.analytics_full_ip_days must be 0 or more and at most privacy.analytics_retention_days"
            );
        }
        if self.community.new_account_hours < 0 {
            bail!("community.new_account_hours must be 0 or more");
        }
        if self.auth.access_token_seconds < 60 || self.auth.access_token_seconds > 3600 {
            bail!("auth.access_token_seconds must be between 60 and 3600");
        }
        if self.auth.session_lifetime_seconds < 3600 {
            bail!("auth.session_lifetime_seconds must be at least 3600");
        }
        if self.max_body_bytes < 1024 {
            bail!("max_body_bytes must be at least 1024");
        }
        if self.storage.max_triangles > crate::engines::mesh::read::MAX_TRIANGLES as u64 {
            bail!(
                "storage.max_triangles must be at most {}",
                crate::engines::mesh::read::MAX_TRIANGLES
            );
        }
        if self.generation.mesh_credit_cost < 0 || self.generation.starting_credits < 0 {
            bail!(
                "generation.mesh_credit_cost and generation.starting_credits must not be negative"
            );
        }
        if !self.smtp.host.is_empty() && self.smtp.from.parse::<lettre::message::Mailbox>().is_err()
        {
            bail!("smtp.from {:?} is not a valid mailbox", self.smtp.from);
        }
        for provider in &self.oidc {
            if provider.id.is_empty()
                || !provider
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                bail!(
                    "oidc provider id {:?} must be letters, digits, - or _",
                    provider.id
                );
            }
            url::Url::parse(&provider.issuer).with_context(|| {
                format!("oidc provider {} has an invalid issuer URL", provider.id)
            })?;
        }
        Ok(())
    }

    /// The base URL for links in mails and redirects, without a trailing slash.
    pub fn public_base(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_url.trim_end_matches('/').to_string()
        }
    }

    /// Whether users reach the appliance over HTTPS (secure cookies, HSTS).
    pub fn is_https(&self) -> bool {
        self.public_base().starts_with("https://")
    }

    /// The effective configuration as TOML with secrets replaced by `"<redacted>"`.
    pub fn redacted_toml(&self) -> String {
        let mut copy = self.clone();
        if !copy.smtp.password.is_empty() {
            copy.smtp.password = "<redacted>".into();
        }
        for provider in &mut copy.oidc {
            provider.client_secret = "<redacted>".into();
        }
        toml::to_string_pretty(&copy).unwrap_or_default()
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

fn merge(into: &mut Table, from: Table) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Table(existing)), Value::Table(incoming)) => merge(existing, incoming),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

fn set_path(table: &mut Table, path: &[String], value: Value) -> anyhow::Result<()> {
    let (last, parents) = path.split_last().context("empty key")?;
    let mut current = table;
    for part in parents {
        let entry = current
            .entry(part.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        current = entry
            .as_table_mut()
            .with_context(|| format!("{part} is not a section"))?;
    }
    current.insert(last.clone(), value);
    Ok(())
}

/// Environment values are read as TOML values when they parse as one (numbers,
/// booleans, arrays), else as plain strings.
fn parse_env_value(raw: &str) -> Value {
    let wrapped = format!("v = {raw}");
    match toml::from_str::<Table>(&wrapped) {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| Value::String(raw.into())),
        Err(_) => Value::String(raw.into()),
    }
}

fn describe_key_error(error: anyhow::Error, env: &[(String, String)]) -> anyhow::Error {
    let vars: Vec<&str> = env
        .iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .map(|(k, _)| k.as_str())
        .collect();
    if vars.is_empty() {
        error
    } else {
        error.context(format!("(STRATAMAKE_* variables set: {})", vars.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_no_file() {
        let config = Config::load_from(&FlagOverrides::default(), &[]).unwrap();
        assert_eq!(config.listen.port(), 8080);
        assert_eq!(config.public_base(), "http://127.0.0.1:8080");
    }

    #[test]
    fn env_overrides_file_and_flags_override_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "instance_name = \"Studio\"\n[smtp]\nport = 25\n").unwrap();
        let flags = FlagOverrides {
            config_file: Some(file),
            listen: Some("127.0.0.1:9999".into()),
            ..Default::default()
        };
        let config = Config::load_from(
            &flags,
            &env(&[
                ("STRATAMAKE_SMTP__PORT", "2525"),
                ("STRATAMAKE_LISTEN", "127.0.0.1:1"),
            ]),
        )
        .unwrap();
        assert_eq!(config.instance_name, "Studio");
        assert_eq!(config.smtp.port, 2525);
        assert_eq!(config.listen.port(), 9999);
    }

    #[test]
    fn wrong_value_names_the_key() {
        let err = Config::load_from(
            &FlagOverrides::default(),
            &env(&[("STRATAMAKE_SMTP__PORT", "\"many\"")]),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("port"), "{err:#}");
        let err = Config::load_from(
            &FlagOverrides::default(),
            &env(&[("STRATAMAKE_NO_SUCH_KEY", "1")]),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("no_such_key"), "{err:#}");
    }

    #[test]
    fn redaction_hides_secrets() {
        let mut config = Config::default();
        config.smtp.password = "hunter2".into();
        assert!(!config.redacted_toml().contains("hunter2"));
    }
}
