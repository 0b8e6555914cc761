//! The node's secret key on disk: the 32-byte ed25519 seed as 64 hex digits,
//! in a file only its owner can read (mode 0600).
//!
//! The file is created with `create_new` and mode 0600 in one step, so it is
//! never readable by others, not even briefly. Loading refuses a file that
//! group or others can read: a leaked key lets anyone sign as the centre.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use seednet_protocol::NodeKey;

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
    let seed: [u8; 32] = rand::random();
    let key = NodeKey::from_seed(seed);
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
    file.write_all(format!("{}\n", hex::encode(seed)).as_bytes())
        .map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    Ok(key)
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
}
