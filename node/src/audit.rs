//! The audit log: this node's own record of who published each version of
//! its records (created, updated, deleted), by account or API token.
//!
//! Why outside the signed record: the record is the centre's public
//! statement and travels to every peer; who at the centre typed it is the
//! centre's internal business, and people's names are not public by
//! default. So an entry lives only in this node's [`Space::Audit`], keyed by
//! record key and version, and is written in the same storage commit as the
//! version it describes (see `Storage::publish_with`): a version answered as
//! published has its entry. Versions received from peers have none, and
//! neither do versions published before this log existed.
//!
//! Who sees it: admins through `GET /api/v1/records/{origin}/{id}/audit`;
//! signed-in editors and admins on the record page. Anonymous readers never
//! see it. Entries are never changed; deleting an account keeps them (they
//! name the account as it was when it published).

use serde::{Deserialize, Serialize};

use seednet_protocol::RecordKey;

use crate::storage::{KvWrite, Space, Storage, StorageError, KV_SCAN_ENTRIES_MAX};

/// Most entries returned for one record (one per version; a record with more
/// versions shows its oldest ones).
pub const AUDIT_ENTRIES_LISTED_MAX: usize = KV_SCAN_ENTRIES_MAX;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Actor {
    /// A person signed in with a named account.
    Account {
        username: String,
        display_name: String,
    },
    /// An API token (the JSON API, the CLI with `--node`, or a web session
    /// started with a token), by its id and label.
    Token { id: String, label: String },
    /// The operator working on the data dir directly (the CLI without
    /// `--node`, imports, the demo), with the node stopped.
    Local,
}

/// What a version did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditAction {
    Create,
    Update,
    Delete,
}

/// One entry: who published `version`, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub version: u64,
    pub action: AuditAction,
    pub actor: Actor,
    /// Unix seconds.
    pub at: i64,
}

/// `<origin hex>/<id>/` : every version of one record.
fn record_prefix(key: &RecordKey) -> Vec<u8> {
    format!("{}/{}/", key.origin, key.id).into_bytes()
}

/// The prefix and the version big-endian, so a scan returns versions in order.
fn entry_key(key: &RecordKey, version: u64) -> Vec<u8> {
    let mut bytes = record_prefix(key);
    bytes.extend_from_slice(&version.to_be_bytes());
    bytes
}

/// The write that records `entry` for version `entry.version` of `key`.
pub fn entry_write(key: &RecordKey, entry: &AuditEntry) -> (Space, KvWrite) {
    let value = serde_json::to_vec(entry).expect("audit entry serialises");
    (Space::Audit, (entry_key(key, entry.version), Some(value)))
}

/// The entries of one record, oldest version first. Blocking.
pub fn trail(storage: &dyn Storage, key: &RecordKey) -> Result<Vec<AuditEntry>, StorageError> {
    storage
        .kv_scan(Space::Audit, &record_prefix(key))?
        .into_iter()
        .take(AUDIT_ENTRIES_LISTED_MAX)
        .map(|(_, value)| {
            serde_json::from_slice(&value.unwrap_or_default())
                .map_err(|e| StorageError::Corrupt(format!("audit entry: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use seednet_protocol::testing::test_key;
    use seednet_protocol::RecordId;

    #[test]
    fn entries_of_one_record_sort_by_version_and_do_not_mix_with_others() {
        let key = RecordKey {
            origin: test_key(1).node_id(),
            id: RecordId::parse("rec").unwrap(),
        };
        let longer = RecordKey {
            origin: key.origin,
            id: RecordId::parse("rec2").unwrap(),
        };
        assert!(entry_key(&key, 2) < entry_key(&key, 256));
        assert!(!entry_key(&longer, 1).starts_with(&record_prefix(&key)));
        let json = serde_json::to_value(Actor::Account {
            username: "maria".into(),
            display_name: "Maria".into(),
        })
        .unwrap();
        assert_eq!(json["kind"], "account");
    }
}
