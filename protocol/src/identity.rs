//! Node identity: an ed25519 key pair. The public key is the [`NodeId`].
//!
//! Text form of a `NodeId`: the 32 public-key bytes as 64 lowercase hex digits.
//! It is the only text form; parsing rejects upper case, other lengths, points
//! that are not on the curve and weak (small-order) keys, because a weak key can
//! produce signatures that verify for many messages.

use std::fmt;
use std::str::FromStr;

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::IdentityError;

/// The public identity of a node: an ed25519 verifying key that is a valid
/// point of the prime-order subgroup (not weak, no torsion component).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId([u8; 32]);

impl NodeId {
    /// Builds a `NodeId` from raw key bytes, refusing invalid and weak keys.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, IdentityError> {
        let point = CompressedEdwardsY(bytes)
            .decompress()
            .ok_or(IdentityError::NotACurvePoint)?;
        // Small-order keys allow signatures valid for many messages; keys with
        // a torsion component are never produced by honest key generation and
        // are refused by libsodium, so refusing them keeps implementations in
        // agreement.
        if point.is_small_order() || !point.is_torsion_free() {
            return Err(IdentityError::WeakKey);
        }
        Ok(NodeId(bytes))
    }

    /// The 32 bytes of the compressed public key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The verifying key. Infallible: the bytes were checked at construction.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::from_bytes(&self.0).expect("NodeId holds a checked key")
    }

    /// The lowercase-hex text form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A short prefix for logs and displays (not unique; never use as a key).
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl FromStr for NodeId {
    type Err = IdentityError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != 64 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(IdentityError::BadText);
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| IdentityError::BadText)?;
        NodeId::from_bytes(bytes)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.to_hex())
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A 64-byte ed25519 signature; text form is 128 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SignatureBytes(pub [u8; 64]);

impl SignatureBytes {
    /// The text form: 128 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl FromStr for SignatureBytes {
    type Err = IdentityError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != 128 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(IdentityError::BadSignatureText);
        }
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| IdentityError::BadSignatureText)?;
        Ok(SignatureBytes(bytes))
    }
}

impl fmt::Debug for SignatureBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignatureBytes({})", self.to_hex())
    }
}

impl Serialize for SignatureBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for SignatureBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A node's secret signing key. Never serialised by this crate except as the
/// 32-byte seed, which the node keeps in a file readable only by its owner.
pub struct NodeKey {
    signing: SigningKey,
}

impl NodeKey {
    /// Deterministic key from a 32-byte seed (RFC 8032 secret key).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        NodeKey {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The 32-byte seed, to store the key; [`NodeKey::from_seed`] restores it.
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The public key as a [`NodeId`] (never weak: it is derived from a seed).
    pub fn node_id(&self) -> NodeId {
        NodeId(self.signing.verifying_key().to_bytes())
    }

    /// Signs `message` as is. Callers sign domain-separated messages, built by
    /// [`signed_message`](crate::signed_message) or by the request-signature
    /// code; never raw content.
    pub fn sign_message(&self, message: &[u8]) -> SignatureBytes {
        SignatureBytes(self.signing.sign(message).to_bytes())
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeKey({}, secret hidden)", self.node_id().short())
    }
}
