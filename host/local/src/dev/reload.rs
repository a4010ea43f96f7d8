//! Hot reload: when a function's guest file changes (and has stopped changing), the next
//! request uses the new build; a guest that fails to load is reported and the old serves on.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::DevApp;
use plugboard_core::runtime::Trust;

/// How often guest files are checked.
const INTERVAL: Duration = Duration::from_millis(300);

/// A file's identity for change detection: modification time and length.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &PathBuf) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Watch every function's guest file for the life of the process. The files are stamped here,
/// before the server answers anything, not when the task first runs: a build that lands
/// between the two would otherwise be taken for the loaded one and never reloaded.
pub fn spawn(app: Arc<DevApp>) {
    let mut watched: Vec<(String, PathBuf, Stamp, Stamp)> = app
        .functions
        .iter()
        .filter_map(|(name, f)| {
            let path = PathBuf::from(f.config().guest.clone()?);
            let now = stamp(&path);
            Some((name.clone(), path, now, now))
        })
        .collect();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(INTERVAL).await;
            for (name, path, loaded, last) in &mut watched {
                let now = stamp(path);
                // Reload once the file is unchanged for one interval (a copy has finished).
                let settled = now == *last;
                *last = now;
                if now.is_none() || now == *loaded || !settled {
                    continue;
                }
                *loaded = now;
                reload(&app, name, path.clone()).await;
            }
        }
    });
}

async fn reload(app: &Arc<DevApp>, name: &str, path: PathBuf) {
    let Some(function) = app.functions.get(name).cloned() else { return };
    let loader = app.loader.clone();
    let role = function.role();
    let loaded = tokio::task::spawn_blocking(move || {
        let bytes = std::fs::read(&path)?;
        let pin = function.config().guest_sha256.as_deref();
        let (guest, _) = loader.load(&bytes, pin, role, Trust::ComponentOnly)?;
        function.replace_guest(guest).map_err(|other| anyhow::anyhow!("the new guest is for {other}"))?;
        anyhow::Ok(())
    })
    .await;
    match loaded {
        Ok(Ok(())) => {
            app.guest_replaced(name);
            tracing::info!(function = name, "guest reloaded");
        }
        Ok(Err(e)) => {
            tracing::error!(function = name, error = %format!("{e:#}"), "guest reload failed; the previous guest serves on")
        }
        Err(e) => tracing::error!(function = name, error = %e, "guest reload panicked"),
    }
}
