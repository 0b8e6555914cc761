//! Publishing: how an editor's content becomes a signed record version.
//!
//! The node assigns the id (a ULID) and the next version, signs with the node
//! key and stores through the one apply path. Version assignment happens on
//! the storage writer thread ([`crate::storage::PublishFn`]), so two
//! concurrent updates of one record can never sign the same version twice
//! (which peers would see as an equivocation). Only the node's own records can
//! be changed here; records of other origins arrive signed from peers.
//!
//! Every version records who published it ([`Actor`]) in the node's audit
//! log (`crate::audit`), written in the same storage commit as the version.
//! The `*_as` methods name the actor; the plain ones are the operator at
//! the data dir ([`Actor::Local`]: the CLI without `--node`, imports, the demo).

use std::sync::Arc;

use seednet_protocol::{
    NodeId, NodeKey, Record, RecordBody, RecordContent, RecordId, RecordKey, Signed,
    ValidationErrors,
};

use crate::audit::{self, Actor, AuditAction, AuditEntry};
use crate::keyring::KeyRing;
use crate::storage::{Built, CurrentVersion, PublishRefusal, Published, Storage, StorageError};

/// Why a publish did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("invalid record content: {0}")]
    Invalid(#[from] ValidationErrors),
    #[error("record {key} belongs to another node; only its origin can change it")]
    NotOwn { key: RecordKey },
    #[error("record {key} was published under this node's retired key; records keep their origin and are never re-signed, so it is read-only since the key rotation")]
    RetiredOrigin { key: RecordKey },
    #[error(transparent)]
    Refused(#[from] PublishRefusal),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Signs and stores the node's own records, with the key that is current
/// when the version is built (see [`KeyRing`]).
#[derive(Clone)]
pub struct Publisher {
    keys: Arc<KeyRing>,
    storage: Arc<dyn Storage>,
}

impl Publisher {
    /// A publisher for a node that never rotated its key.
    pub fn new(key: Arc<NodeKey>, storage: Arc<dyn Storage>) -> Self {
        Self::with_keys(Arc::new(KeyRing::new(key, Vec::new())), storage)
    }

    pub fn with_keys(keys: Arc<KeyRing>, storage: Arc<dyn Storage>) -> Self {
        Publisher { keys, storage }
    }

    /// The node's keys (federation signs its requests with the current one).
    pub fn keys(&self) -> &Arc<KeyRing> {
        &self.keys
    }

    /// The id of the current key: the origin of records published now.
    pub fn node_id(&self) -> NodeId {
        self.keys.node_id()
    }

    /// Publishes `content` as version 1 of a new record with a fresh ULID id.
    pub async fn create(&self, content: RecordContent) -> Result<Published, PublishError> {
        self.create_as(&Actor::Local, content).await
    }

    /// [`Publisher::create`] on behalf of `actor`.
    pub async fn create_as(
        &self,
        actor: &Actor,
        content: RecordContent,
    ) -> Result<Published, PublishError> {
        content.validate()?;
        let id = RecordId::parse(&ulid::Ulid::new().to_string()).expect("a ULID is a record id");
        let signer = self.keys.current();
        let key = RecordKey {
            origin: signer.node_id(),
            id,
        };
        let build_key = key.clone();
        let actor = actor.clone();
        let build = Box::new(move |current: Option<CurrentVersion>| {
            if current.is_some() {
                return Err(PublishRefusal::Exists);
            }
            let body = RecordBody::Live(Box::new(content));
            sign_audited(&signer, build_key, 1, body, AuditAction::Create, actor)
        });
        Ok(self.storage.publish_with(key, build).wait().await??)
    }

    /// Publishes `content` as the next version of own record `id`. With
    /// `expected_version`, refuses when the current version differs.
    pub async fn update(
        &self,
        id: RecordId,
        content: RecordContent,
        expected_version: Option<u64>,
    ) -> Result<Published, PublishError> {
        self.update_as(&Actor::Local, id, content, expected_version)
            .await
    }

    /// [`Publisher::update`] on behalf of `actor`.
    pub async fn update_as(
        &self,
        actor: &Actor,
        id: RecordId,
        content: RecordContent,
        expected_version: Option<u64>,
    ) -> Result<Published, PublishError> {
        content.validate()?;
        let body = RecordBody::Live(Box::new(content));
        self.next_version(actor, id, expected_version, body).await
    }

    /// Publishes a signed tombstone as the next version of own record `id`.
    pub async fn delete(
        &self,
        id: RecordId,
        expected_version: Option<u64>,
    ) -> Result<Published, PublishError> {
        self.delete_as(&Actor::Local, id, expected_version).await
    }

    /// [`Publisher::delete`] on behalf of `actor`.
    pub async fn delete_as(
        &self,
        actor: &Actor,
        id: RecordId,
        expected_version: Option<u64>,
    ) -> Result<Published, PublishError> {
        self.next_version(actor, id, expected_version, RecordBody::Tombstone)
            .await
    }

    /// Refuses keys of other origins, and of this node's retired keys
    /// (checked before any write).
    pub fn check_own(&self, key: &RecordKey) -> Result<(), PublishError> {
        if key.origin == self.node_id() {
            return Ok(());
        }
        if self.keys.is_own(&key.origin) {
            return Err(PublishError::RetiredOrigin { key: key.clone() });
        }
        Err(PublishError::NotOwn { key: key.clone() })
    }

    async fn next_version(
        &self,
        actor: &Actor,
        id: RecordId,
        expected_version: Option<u64>,
        body: RecordBody,
    ) -> Result<Published, PublishError> {
        let signer = self.keys.current();
        let key_id = id.clone();
        let key = RecordKey {
            origin: signer.node_id(),
            id,
        };
        let build_key = key.clone();
        let actor = actor.clone();
        let action = match body {
            RecordBody::Tombstone => AuditAction::Delete,
            RecordBody::Live(_) => AuditAction::Update,
        };
        let build = Box::new(move |current: Option<CurrentVersion>| {
            let current = current.ok_or(PublishRefusal::NotFound)?;
            if current.deleted {
                return Err(PublishRefusal::Deleted {
                    version: current.version,
                });
            }
            if let Some(expected) = expected_version {
                if expected != current.version {
                    return Err(PublishRefusal::VersionConflict {
                        expected,
                        current: current.version,
                    });
                }
            }
            let version = current.version + 1;
            sign_audited(&signer, build_key, version, body, action, actor)
        });
        match self.storage.publish_with(key, build).wait().await? {
            Err(PublishRefusal::NotFound) => Err(self.not_found_or_retired(key_id).await),
            result => Ok(result?),
        }
    }

    /// The error for an own record id that is not found under the current
    /// key: [`PublishError::RetiredOrigin`] when a retired key published it,
    /// so the editor learns why it cannot be changed.
    async fn not_found_or_retired(&self, id: RecordId) -> PublishError {
        let retired = self.keys.retired();
        let storage = Arc::clone(&self.storage);
        let found = tokio::task::spawn_blocking(move || {
            retired.into_iter().rev().find_map(|origin| {
                let key = RecordKey {
                    origin,
                    id: id.clone(),
                };
                matches!(storage.current_version(&key), Ok(Some(_))).then_some(key)
            })
        })
        .await
        .ok()
        .flatten();
        match found {
            Some(key) => PublishError::RetiredOrigin { key },
            None => PublishError::Refused(PublishRefusal::NotFound),
        }
    }
}

/// Signs the version and builds its audit entry, written in the same commit.
fn sign_audited(
    key: &NodeKey,
    record_key: RecordKey,
    version: u64,
    body: RecordBody,
    action: AuditAction,
    actor: Actor,
) -> Result<Built, PublishRefusal> {
    let signed_at = crate::clock::now_timestamp();
    let entry = AuditEntry {
        version,
        action,
        actor,
        at: signed_at.unix_seconds(),
    };
    let audit_write = audit::entry_write(&record_key, &entry);
    let record = Record {
        key: record_key,
        version,
        signed_at,
        body,
    };
    let signed = Signed::sign(key, record).map_err(|e| PublishRefusal::Sign(e.to_string()))?;
    Ok(Built {
        signed,
        entries: vec![audit_write],
    })
}
