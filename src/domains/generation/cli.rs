//! `stratamake models …` and `stratamake doctor`.

use crate::app::AppState;
use crate::cli::ModelsCommand;
use crate::domains::generation::{admin, models, pull};

fn describe(model: &models::Model) -> String {
    let mut flags = Vec::new();
    if model.is_default {
        flags.push("default");
    }
    if !model.enabled {
        flags.push("disabled");
    }
    if model.test_only {
        flags.push("test only");
    }
    if !model.supported {
        flags.push("family not supported yet");
    }
    if model.verify_error.is_some() {
        flags.push("FAILED VERIFICATION");
    }
    format!(
        "{:<24} {:<10} {:>4} credits  {}{}",
        model.id,
        model.family,
        model.credit_cost,
        model.name,
        if flags.is_empty() {
            String::new()
        } else {
            format!("  [{}]", flags.join(", "))
        }
    )
}

pub async fn models(state: &AppState, command: ModelsCommand) -> anyhow::Result<()> {
    let fail = |e: crate::error::ApiError| anyhow::anyhow!("{e}");
    match command {
        ModelsCommand::Import { dir } => {
            let dir = dir
                .canonicalize()
                .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
            let model = admin::import(state, dir, None).await.map_err(fail)?;
            println!("Imported and verified:\n{}", describe(&model));
        }
        ModelsCommand::Pull { what } => {
            let models_dir = state.generation.models_dir.clone();
            let pulled = pull::pull(&what, &models_dir)
                .await
                .map_err(|e| fail(admin::import_error(e)))?;
            let model = admin::record(state, pulled.manifest, None)
                .await
                .map_err(fail)?;
            println!("Downloaded and verified:\n{}", describe(&model));
            if !pulled.unpinned.is_empty() {
                println!(
                    "Not pinned by the catalogue (hash taken from this download): {}",
                    pulled.unpinned.join(", ")
                );
            }
        }
        ModelsCommand::List => {
            let all = state.db.query(models::list).await?;
            if all.is_empty() {
                println!("No models installed. Import one with `stratamake models import DIR`.");
            }
            for model in all {
                println!("{}", describe(&model));
            }
        }
        ModelsCommand::Verify { id } => {
            let model = admin::verify(state, id).await.map_err(fail)?;
            println!("{}", describe(&model));
            if let Some(error) = model.verify_error {
                anyhow::bail!("verification failed: {error}");
            }
        }
        ModelsCommand::Remove { id } => {
            admin::uninstall(state, id.clone(), None)
                .await
                .map_err(|e| match e {
                    crate::error::ApiError::NotFound => {
                        anyhow::anyhow!("no model {id:?} is installed")
                    }
                    other => fail(other),
                })?;
            println!("Removed {id}");
        }
    }
    Ok(())
}

/// Prints one line per check; fails when something needed is broken.
pub async fn doctor(state: &AppState) -> anyhow::Result<()> {
    let mut problems = 0;
    let mut report = |ok: bool, what: &str, detail: String| {
        if !ok {
            problems += 1;
        }
        println!("{} {what:<14} {detail}", if ok { "ok  " } else { "FAIL" });
    };
    report(
        true,
        "data dir",
        state.config.data_dir().display().to_string(),
    );
    report(true, "database", "opened, migrations applied".into());
    let engine = state.generation.clone();
    let runtime = tokio::task::spawn_blocking(move || {
        engine.runtime().map(|r| {
            (
                r.library.clone(),
                r.version.clone(),
                r.provider,
                r.provider_problem(),
            )
        })
    })
    .await?;
    match runtime {
        Ok((library, version, provider, provider_problem)) => {
            report(
                true,
                "onnxruntime",
                format!("{version} from {}", library.display()),
            );
            match provider_problem {
                None => report(true, "provider", provider.to_string()),
                Some(problem) => report(false, "provider", problem),
            }
        }
        Err(e) => {
            report(
                false,
                "onnxruntime",
                format!("{}; fix: {}", e.reason, e.fix),
            );
            for path in e.searched.iter().take(12) {
                println!("       looked at {}", path.display());
            }
        }
    }
    let installed = state.db.query(models::list).await?;
    let usable = installed
        .iter()
        .filter(|m| m.enabled && m.supported && m.verify_error.is_none() && !m.test_only)
        .count();
    report(
        usable > 0,
        "models",
        if usable > 0 {
            format!("{usable} usable of {} installed", installed.len())
        } else {
            "none usable: import one with `stratamake models import DIR`".into()
        },
    );
    report(true, "mail", state.mailer.describe());
    if problems > 0 {
        anyhow::bail!("{problems} check(s) failed");
    }
    Ok(())
}
