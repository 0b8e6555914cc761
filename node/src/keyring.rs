//! The node's signing identity while it runs: the current key, and the ids
//! of the keys it used before a rotation (`docs/PROTOCOL-federation.md` 9.9).
//!
//! Every part that signs (publishing, descriptor, federation requests) asks
//! the ring for the current key at the moment it signs, so a rotation on the
//! running node takes effect for the next signature without a restart. The
//! retired ids stay the node's own for reading: records published under them
//! keep their origin, are never re-signed, and are never accepted back from a
//! peer as someone else's.

use std::sync::{Arc, RwLock};

use seednet_protocol::{NodeId, NodeKey};

struct KeyState {
    current: Arc<NodeKey>,
    retired: Vec<NodeId>,
}

/// The current key and the retired ids. Cheap to share behind an `Arc`.
pub struct KeyRing {
    state: RwLock<KeyState>,
}

impl KeyRing {
    pub fn new(current: Arc<NodeKey>, retired: Vec<NodeId>) -> Self {
        KeyRing {
            state: RwLock::new(KeyState { current, retired }),
        }
    }

    /// The key to sign with now.
    pub fn current(&self) -> Arc<NodeKey> {
        Arc::clone(&self.state.read().expect("lock").current)
    }

    /// The id of the current key.
    pub fn node_id(&self) -> NodeId {
        self.state.read().expect("lock").current.node_id()
    }

    /// Ids this node signed with before, oldest first.
    pub fn retired(&self) -> Vec<NodeId> {
        self.state.read().expect("lock").retired.clone()
    }

    /// The current id followed by the retired ones: every origin this node
    /// is the only source of.
    pub fn own_ids(&self) -> Vec<NodeId> {
        let state = self.state.read().expect("lock");
        let mut ids = vec![state.current.node_id()];
        ids.extend(state.retired.iter().copied());
        ids
    }

    /// Whether `id` is this node, now or before a rotation.
    pub fn is_own(&self, id: &NodeId) -> bool {
        let state = self.state.read().expect("lock");
        state.current.node_id() == *id || state.retired.contains(id)
    }

    /// Makes `new` the current key; the previous one becomes retired.
    /// Returns the previous key (it still signs the rotation statement).
    pub(crate) fn rotate_to(&self, new: Arc<NodeKey>) -> Arc<NodeKey> {
        let mut state = self.state.write().expect("lock");
        let old = std::mem::replace(&mut state.current, new);
        if !state.retired.contains(&old.node_id()) {
            state.retired.push(old.node_id());
        }
        old
    }
}

#[cfg(test)]
mod tests {
    use seednet_protocol::testing::test_key;

    use super::*;

    #[test]
    fn rotation_moves_the_current_id_to_retired() {
        let ring = KeyRing::new(Arc::new(test_key(1)), Vec::new());
        let old_id = test_key(1).node_id();
        let old = ring.rotate_to(Arc::new(test_key(2)));
        assert_eq!(old.node_id(), old_id);
        assert_eq!(ring.node_id(), test_key(2).node_id());
        assert_eq!(ring.retired(), vec![old_id]);
        assert_eq!(ring.own_ids(), vec![test_key(2).node_id(), old_id]);
        assert!(ring.is_own(&old_id));
        assert!(ring.is_own(&test_key(2).node_id()));
        assert!(!ring.is_own(&test_key(3).node_id()));
    }
}
