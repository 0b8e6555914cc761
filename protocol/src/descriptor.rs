//! The node descriptor: a node's signed statement of who it is and where it
//! can be reached. Peers fetch it before an admin approves a link, and the
//! admin checks the node id it names.

use serde::{Deserialize, Serialize};

use crate::content::Checker;
use crate::error::{ValidationError, ValidationErrors};
use crate::identity::NodeId;
use crate::limits::{
    DESCRIPTOR_CANONICAL_BYTES_MAX, DESCRIPTOR_LANGUAGES_MAX, JSON_SAFE_INTEGER_MAX,
    NODE_NAME_CHARS_MAX, SOFTWARE_CHARS_MAX,
};
use crate::signed::Signable;
use crate::timestamp::Timestamp;
use crate::vocab::{CountryCode, LanguageTag};

/// A node's signed statement of who it is (signer field `node_id`, context
/// `seednet node descriptor v1`, at most [`DESCRIPTOR_CANONICAL_BYTES_MAX`]
/// canonical bytes). [`Signable::validate`] checks the rules of
/// `docs/PROTOCOL.md` section 6; the types check the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeDescriptor {
    /// The node's key; the descriptor is signed by it.
    pub node_id: NodeId,
    /// Human name of the centre, e.g. "SEED Competence Centre Italy": not
    /// blank, at most [`NODE_NAME_CHARS_MAX`] characters.
    pub name: String,
    /// The centre's country.
    pub country: CountryCode,
    /// Public base URL, e.g. `https://seed.example.org`; API paths are appended.
    /// An http or https URL with a host.
    pub base_url: String,
    /// Languages the centre publishes in, the first being its main one: 1 to
    /// [`DESCRIPTOR_LANGUAGES_MAX`].
    pub languages: Vec<LanguageTag>,
    /// Descriptor version: increases each time the node re-signs its descriptor.
    /// From 1 to 2^53 − 1.
    pub version: u64,
    /// Software name and version, e.g. `seednet/0.1.0`: not blank, at most
    /// [`SOFTWARE_CHARS_MAX`] characters.
    pub software: String,
    /// When the node signed this version of its descriptor (informational).
    pub signed_at: Timestamp,
}

impl Signable for NodeDescriptor {
    const CONTEXT: &'static str = "seednet node descriptor v1";
    const BYTES_MAX: usize = DESCRIPTOR_CANONICAL_BYTES_MAX;
    const SIGNER_FIELD: &'static str = "node_id";

    fn signer(&self) -> NodeId {
        self.node_id
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut check = Checker::default();
        check.text("name", &self.name, NODE_NAME_CHARS_MAX, false);
        check.url("base_url", &self.base_url);
        if self.languages.is_empty() {
            check.push(ValidationError::Missing {
                field: "languages".into(),
            });
        }
        check.count("languages", self.languages.len(), DESCRIPTOR_LANGUAGES_MAX);
        if self.version == 0 || self.version > JSON_SAFE_INTEGER_MAX {
            check.push(ValidationError::Invalid {
                field: "version".into(),
                message: format!("version must be between 1 and {JSON_SAFE_INTEGER_MAX}"),
            });
        }
        check.text("software", &self.software, SOFTWARE_CHARS_MAX, false);
        check.finish()
    }
}
