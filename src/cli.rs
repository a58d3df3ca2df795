//! The `stratamake` command line: `serve`, `admin`, `config`, `mail`, `blobs`, `models`,
//! `doctor`.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Config, FlagOverrides, LogFormat};

#[derive(Parser)]
#[command(
    name = "stratamake",
    version,
    about = "StrataMake: a self-hosted AI creative platform in one binary"
)]
pub struct Cli {
    /// Config file (TOML); default /etc/stratamake/config.toml when it exists.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data dir (database, files, mail outbox); default ./data.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Run as if this many seconds had passed (tests of expiry and grace periods).
    #[arg(
        long,
        global = true,
        hide = true,
        value_name = "SECONDS",
        allow_hyphen_values = true
    )]
    pub clock_offset: Option<i64>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 or 0.0.0.0:8080.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// URL users reach the server at (used in mail links).
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
    },
    /// Administration from the shell.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Outgoing mail.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// The content-addressed file store.
    Blobs {
        #[command(subcommand)]
        command: BlobsCommand,
    },
    /// The full-text search index.
    Search {
        #[command(subcommand)]
        command: SearchCommand,
    },
    /// The privacy center's upkeep.
    Privacy {
        #[command(subcommand)]
        command: PrivacyCommand,
    },
    /// Image models.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Checks the installation: data dir, database, ONNX Runtime, models, mail.
    Doctor,
}

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Copies a model folder (with its model.toml) into the data dir and verifies it.
    Import { dir: PathBuf },
    /// Fetches a model over HTTP: a catalogue name (e.g. sd-turbo) or the URL of a
    /// folder that serves model.toml and its files.
    Pull { what: String },
    /// Lists installed models.
    List,
    /// Re-hashes a model's files against its manifest.
    Verify { id: String },
    /// Removes a model and its files.
    Remove { id: String },
}

#[derive(Subcommand)]
pub enum SearchCommand {
    /// Rebuilds the index from the database (a running server does it and keeps
    /// answering searches meanwhile).
    Reindex,
}

#[derive(Subcommand)]
pub enum PrivacyCommand {
    /// Purges the accounts whose deletion grace period is over (a running server does
    /// it every hour), deletes expired data exports, and shortens and drops old usage
    /// records.
    Purge,
}

#[derive(Subcommand)]
pub enum BlobsCommand {
    /// Delete files no asset has referred to for longer than the grace period.
    Gc,
    /// Re-hash every file; report (and quarantine) corrupt or missing ones.
    Fsck,
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create an account with a verified email (an administrator with --admin).
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        username: String,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration, secrets redacted.
    Print,
}

#[derive(Subcommand)]
pub enum MailCommand {
    /// Send a test mail and show what the mail server answered.
    Test { address: String },
}

impl Cli {
    fn flags(&self) -> FlagOverrides {
        let (listen, public_url) = match &self.command {
            Command::Serve { listen, public_url } => (listen.clone(), public_url.clone()),
            _ => (None, None),
        };
        FlagOverrides {
            config_file: self.config.clone(),
            listen,
            data_dir: self.data_dir.clone(),
            public_url,
            log_format: self.log_format.clone(),
            clock_offset_seconds: self.clock_offset,
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STRATAMAKE_LOG")
        .unwrap_or_else(|_| "info,tower_http=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !from_stdin && stdin.is_terminal() {
        eprint!("Password (input is shown; use --password-stdin to pipe it): ");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.flags())?;
    init_logging(config.log_format);
    match cli.command {
        Command::Serve { .. } => {
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot listen on {}: {e} (set --listen or STRATAMAKE_LISTEN)",
                        config.listen
                    )
                })?;
            let state = crate::server::open_state(config).await?;
            let server = crate::server::launch_with_listener(listener, state).await?;
            server.handle.await??;
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Print,
        } => {
            print!("{}", config.redacted_toml());
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::CreateUser {
                    email,
                    username,
                    admin,
                    password_stdin,
                },
        } => {
            if !admin {
                anyhow::bail!(
                    "only administrators can be created from the shell for now: add --admin"
                );
            }
            let password = read_password(password_stdin)?;
            let state = crate::server::open_state(config).await?;
            let id = crate::domains::auth::api::setup::create_admin(
                &state, &email, &username, &password, None,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "Created administrator {username} ({id}). Sign in at {}/login",
                state.config.public_base()
            );
            Ok(())
        }
        Command::Search {
            command: SearchCommand::Reindex,
        } => {
            let data_dir = crate::platform::data_dir::DataDir::open(config.data_dir())?;
            let state = crate::server::open_state(config).await?;
            let report = crate::platform::search::reindex(
                &data_dir.index_dir(),
                &state.db,
                std::sync::Arc::new(crate::domains::community::search::Documents),
            )
            .await?;
            println!("{report}");
            Ok(())
        }
        Command::Blobs { command } => {
            let state = crate::server::open_state(config).await?;
            match command {
                BlobsCommand::Gc => {
                    let removed = crate::domains::library::maintenance::collect_garbage(&state)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    println!("{} unreferenced file(s) deleted", removed.len());
                    Ok(())
                }
                BlobsCommand::Fsck => {
                    let report = crate::domains::library::maintenance::fsck(&state).await?;
                    println!("{}", serde_json::to_string_pretty(&report)?);
                    if report.is_clean() {
                        Ok(())
                    } else {
                        anyhow::bail!("the file store has problems (see above)")
                    }
                }
            }
        }
        Command::Privacy {
            command: PrivacyCommand::Purge,
        } => {
            let state = crate::server::open_state(config).await?;
            let purged = crate::domains::privacy::deletion::purge_due(&state).await?;
            let expired = crate::domains::privacy::export::expire(&state).await?;
            let (shortened, dropped) =
                crate::domains::privacy::usage::apply_retention(&state).await?;
            println!(
                "{purged} account(s) purged, {expired} export(s) expired, {shortened} usage record(s) shortened, {dropped} dropped"
            );
            Ok(())
        }
        Command::Models { command } => {
            let state = crate::server::open_state(config).await?;
            crate::domains::generation::cli::models(&state, command).await
        }
        Command::Doctor => {
            let state = crate::server::open_state(config).await?;
            crate::domains::generation::cli::doctor(&state).await
        }
        Command::Mail {
            command: MailCommand::Test { address },
        } => {
            let state = crate::server::open_state(config).await?;
            let (ok, transcript) = state
                .mailer
                .send_test(&address, &state.config.instance_name)
                .await;
            println!("{transcript}");
            if ok {
                Ok(())
            } else {
                anyhow::bail!("the test mail was not sent")
            }
        }
    }
}
