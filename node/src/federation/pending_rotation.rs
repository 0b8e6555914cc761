//! A key rotation a peer announced, waiting for this node's admin
//! (`docs/PROTOCOL-federation.md` 9.9): as stored with the peer's entry and
//! as held in memory, verified. Data only; checking and approving a
//! rotation is `super::rotation`.

use seednet_protocol::federation::wire::{KeyRotation, PendingRotation};
use seednet_protocol::{NodeDescriptor, NodeId, Signed, SignedWire, Timestamp};
use serde::{Deserialize, Serialize};

use crate::storage::StorageError;

/// A pending rotation as stored with its peer (JSON in the peer's entry).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredPendingRotation {
    statement: SignedWire,
    descriptor: SignedWire,
    received_at: Timestamp,
}

/// A pending rotation in memory, verified.
pub(crate) struct PendingRotationState {
    statement: Signed<KeyRotation>,
    descriptor: Signed<NodeDescriptor>,
    received_at: Timestamp,
}

impl PendingRotationState {
    /// A rotation statement checked against its new descriptor.
    pub(crate) fn new(
        statement: Signed<KeyRotation>,
        descriptor: Signed<NodeDescriptor>,
        received_at: Timestamp,
    ) -> Self {
        PendingRotationState {
            statement,
            descriptor,
            received_at,
        }
    }

    pub(crate) fn stored(&self) -> StoredPendingRotation {
        StoredPendingRotation {
            statement: self.statement.to_wire(),
            descriptor: self.descriptor.to_wire(),
            received_at: self.received_at,
        }
    }

    /// Verifies a stored pending rotation again (both signatures).
    pub(crate) fn load(stored: &StoredPendingRotation) -> Result<Self, StorageError> {
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            StorageError::Corrupt(format!("stored pending rotation {what}: {e}"))
        };
        Ok(PendingRotationState {
            statement: Signed::from_wire(&stored.statement)
                .map_err(|e| corrupt("statement", &e))?,
            descriptor: Signed::from_wire(&stored.descriptor)
                .map_err(|e| corrupt("descriptor", &e))?,
            received_at: stored.received_at,
        })
    }

    /// The key the peer announced.
    pub(crate) fn new_node_id(&self) -> NodeId {
        self.statement.value().new_node_id
    }

    /// The peer's descriptor under its new key.
    pub(crate) fn descriptor(&self) -> &Signed<NodeDescriptor> {
        &self.descriptor
    }

    pub(crate) fn into_descriptor(self) -> Signed<NodeDescriptor> {
        self.descriptor
    }

    pub(crate) fn entry(&self) -> PendingRotation {
        let statement = self.statement.value();
        PendingRotation {
            new_node_id: statement.new_node_id,
            rotated_at: statement.rotated_at,
            reason: statement.reason.clone(),
            received_at: self.received_at,
        }
    }
}
