//! Opening a node's data dir and keeping its signed descriptor current.
//!
//! The descriptor (name, country, public URL, languages, software) is signed
//! at `init` as version 1 and re-signed with the next version whenever the
//! configuration says something different, so peers always fetch a statement
//! that matches the running node.

use std::sync::Arc;

use seednet_protocol::{NodeDescriptor, NodeKey, Signed};

use crate::config::Config;
use crate::keyfile::{self, KeyFileError};
use crate::keyring::KeyRing;
use crate::service::Publisher;
use crate::storage::{self, SledStorage, Storage, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Key(#[from] KeyFileError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the node descriptor cannot be signed: {0}")]
    Descriptor(String),
}

/// An open data dir: storage, keys, publisher.
pub struct OpenNode {
    pub storage: Arc<dyn Storage>,
    /// The current key and the ids retired by earlier rotations.
    pub keys: Arc<KeyRing>,
    pub publisher: Publisher,
    pub descriptor: Signed<NodeDescriptor>,
}

/// Opens storage and key and brings the descriptor up to date. Blocking.
pub fn open(config: &Config) -> Result<OpenNode, OpenError> {
    let key = Arc::new(keyfile::load(&config.key_path())?);
    let storage: Arc<dyn Storage> = Arc::new(SledStorage::open(&config.db_dir())?);
    let descriptor = ensure_descriptor(storage.as_ref(), &key, config)?;
    // Ids of earlier keys: from the rotations this node signed, and from the
    // retired key files kept beside the key (a data dir restored from an
    // export has the files but not the statements). A statement stored by a
    // rotation that crashed before its key file was replaced names the
    // current key as old: it is not retired.
    let mut retired: Vec<_> = storage::load_own_rotations(storage.as_ref())?
        .iter()
        .map(|rotation| rotation.value().old_node_id)
        .collect();
    for id in keyfile::retired_ids(&config.key_path())? {
        if !retired.contains(&id) {
            retired.push(id);
        }
    }
    retired.retain(|id| *id != key.node_id());
    let keys = Arc::new(KeyRing::new(key, retired));
    let publisher = Publisher::with_keys(Arc::clone(&keys), Arc::clone(&storage));
    Ok(OpenNode {
        storage,
        keys,
        publisher,
        descriptor,
    })
}

/// Returns the stored descriptor if it matches `config`, else signs and
/// stores the next version. Blocking.
pub fn ensure_descriptor(
    storage: &dyn Storage,
    key: &NodeKey,
    config: &Config,
) -> Result<Signed<NodeDescriptor>, OpenError> {
    let existing = storage::load_descriptor(storage)?;
    let wanted = |version: u64| NodeDescriptor {
        node_id: key.node_id(),
        name: config.name.clone(),
        country: config.country,
        base_url: config.public_url.clone(),
        languages: config.languages.clone(),
        version,
        software: crate::SOFTWARE.to_string(),
        signed_at: crate::clock::now_timestamp(),
    };
    let next_version = match &existing {
        Some(signed) => {
            let current = signed.value();
            let candidate = wanted(current.version);
            let same = current.node_id == candidate.node_id
                && current.name == candidate.name
                && current.country == candidate.country
                && current.base_url == candidate.base_url
                && current.languages == candidate.languages
                && current.software == candidate.software;
            if same {
                return Ok(signed.clone());
            }
            current.version + 1
        }
        None => 1,
    };
    let signed = Signed::sign(key, wanted(next_version))
        .map_err(|e| OpenError::Descriptor(e.to_string()))?;
    storage::store_descriptor(storage, &signed).wait_blocking()?;
    tracing::info!(version = next_version, "node descriptor signed");
    Ok(signed)
}
