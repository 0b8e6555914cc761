//! The node's secret key on disk: the 32-byte ed25519 seed as 64 hex digits,
//! in a file only its owner can read (mode 0600).
//!
//! The file is created with `create_new` and mode 0600 in one step, so it is
//! never readable by others, not even briefly. Loading refuses a file that
//! group or others can read: a leaked key lets anyone sign as the centre.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use seednet_protocol::{NodeId, NodeKey};

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("key file {path} already exists")]
    Exists { path: String },
    #[error("cannot access key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("key file {path} can be read by others (mode {mode:o}); run: chmod 600 {path}")]
    Permissions { path: String, mode: u32 },
    #[error("key file {path} does not hold 64 hex digits")]
    Malformed { path: String },
}

/// Generates a new key and writes it to `path` (which must not exist).
pub fn create(path: &Path) -> Result<NodeKey, KeyFileError> {
    let key = NodeKey::from_seed(rand::random());
    write_new(path, &key)?;
    Ok(key)
}

/// Writes `key` to `path`, which must not exist: created with mode 0600 in
/// one step, written and fsynced before returning.
pub fn write_new(path: &Path, key: &NodeKey) -> Result<(), KeyFileError> {
    let io_error = |source: std::io::Error| KeyFileError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                KeyFileError::Exists {
                    path: path.display().to_string(),
                }
            } else {
                io_error(source)
            }
        })?;
    file.write_all(format!("{}\n", hex::encode(key.seed())).as_bytes())
        .map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    Ok(())
}

/// Where a key retired by a rotation is kept, next to the key file:
/// `node.key.retired-<old node id hex>`.
pub fn retired_path(key_path: &Path, old: &NodeId) -> PathBuf {
    let mut name = key_path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".retired-{}", old.to_hex()));
    key_path.with_file_name(name)
}

/// The ids of the retired key files beside `key_path` (named by
/// [`retired_path`]), in name order. Files with other names are ignored.
pub fn retired_ids(key_path: &Path) -> Result<Vec<NodeId>, KeyFileError> {
    let dir = key_path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let prefix = format!(
        "{}.retired-",
        key_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let io_error = |source| KeyFileError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let name = entry.map_err(io_error)?.file_name();
        let name = name.to_string_lossy();
        if let Some(id) = name
            .strip_prefix(&prefix)
            .and_then(|hex| hex.parse::<NodeId>().ok())
        {
            ids.push(id);
        }
    }
    ids.sort();
    Ok(ids)
}

/// Replaces the key at `key_path` by `new` for a rotation, crash-safely:
/// the current key is first kept as [`retired_path`] (a file that already
/// holds exactly that key is accepted, so a rotation interrupted by a crash
/// can be retried), then `new` is written to `<key_path>.new`, fsynced, and
/// renamed over `key_path`, and the directory is fsynced. At every instant
/// `key_path` holds either the old or the new key, never a partial one.
pub fn replace_for_rotation(
    key_path: &Path,
    old: &NodeKey,
    new: &NodeKey,
) -> Result<PathBuf, KeyFileError> {
    let retired = retired_path(key_path, &old.node_id());
    match write_new(&retired, old) {
        Ok(()) => {}
        Err(KeyFileError::Exists { .. }) if load(&retired)?.node_id() == old.node_id() => {}
        Err(error) => return Err(error),
    }
    let mut staged_name = key_path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    staged_name.push(".new");
    let staged = key_path.with_file_name(staged_name);
    let io_error = |path: &Path, source: std::io::Error| KeyFileError::Io {
        path: path.display().to_string(),
        source,
    };
    match std::fs::remove_file(&staged) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(&staged, e)),
    }
    write_new(&staged, new)?;
    std::fs::rename(&staged, key_path).map_err(|e| io_error(key_path, e))?;
    let dir = key_path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))?;
    Ok(retired)
}

/// Reads the key at `path`, refusing a file others can read.
pub fn load(path: &Path) -> Result<NodeKey, KeyFileError> {
    let io_error = |source: std::io::Error| KeyFileError::Io {
        path: path.display().to_string(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(io_error)?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Permissions {
            path: path.display().to_string(),
            mode,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io_error)?;
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut seed).map_err(|_| KeyFileError::Malformed {
        path: path.display().to_string(),
    })?;
    Ok(NodeKey::from_seed(seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_key_is_private_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let key = create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load(&path).unwrap().node_id(), key.node_id());
        assert!(matches!(create(&path), Err(KeyFileError::Exists { .. })));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(load(&path), Err(KeyFileError::Permissions { .. })));
    }

    #[test]
    fn rotation_keeps_the_old_key_and_replaces_the_current_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let old = create(&path).unwrap();
        let new = NodeKey::from_seed([7; 32]);
        let retired = replace_for_rotation(&path, &old, &new).unwrap();
        assert_eq!(load(&path).unwrap().node_id(), new.node_id());
        assert_eq!(load(&retired).unwrap().node_id(), old.node_id());
        assert_eq!(retired, retired_path(&path, &old.node_id()));
        assert_eq!(retired_ids(&path).unwrap(), vec![old.node_id()]);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!dir.path().join("node.key.new").exists());
        // Retrying after a crash past the first step is accepted.
        replace_for_rotation(&path, &old, &new).unwrap();
        assert_eq!(load(&path).unwrap().node_id(), new.node_id());
    }
}
