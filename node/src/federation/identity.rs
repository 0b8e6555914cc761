//! This node's own federation identity while it runs: its signed descriptor
//! (what peers pin and a link request embeds) and where its key file lives.
//!
//! The descriptor changes only when the key rotates (`super::rotation`),
//! which also holds [`OwnIdentity::rotating`] for the whole rotation, so
//! two rotations never interleave their durable steps.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use seednet_protocol::{NodeDescriptor, Signed};

use super::FederationError;

pub(crate) struct OwnIdentity {
    key_path: PathBuf,
    descriptor: Mutex<Option<Signed<NodeDescriptor>>>,
    /// Held while this node rotates its own key (one rotation at a time).
    pub(crate) rotating: tokio::sync::Mutex<()>,
}

impl OwnIdentity {
    pub(crate) fn new(key_path: PathBuf) -> Self {
        OwnIdentity {
            key_path,
            descriptor: Mutex::new(None),
            rotating: tokio::sync::Mutex::new(()),
        }
    }

    /// The current key file (a rotation replaces it).
    pub(crate) fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// The node's current signed descriptor; refused before federation has
    /// loaded it.
    pub(crate) fn descriptor(&self) -> Result<Signed<NodeDescriptor>, FederationError> {
        self.descriptor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
            .ok_or(FederationError::NotStarted)
    }

    pub(crate) fn set_descriptor(&self, descriptor: Option<Signed<NodeDescriptor>>) {
        *self
            .descriptor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = descriptor;
    }
}
