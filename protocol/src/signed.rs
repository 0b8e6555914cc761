//! Signing and verification of protocol objects.
//!
//! A signed object travels as `{"signed": <canonical JSON>, "signature": "<hex>"}`
//! ([`SignedWire`]). The signature is ed25519 over the domain-separated message
//! `CONTEXT || 0x00 || canonical_bytes`, where `CONTEXT` names the object type
//! (`"seednet record v1"`, `"seednet node descriptor v1"`), so a signature over
//! one type can never be replayed as another.
//!
//! Verification order (also in `docs/PROTOCOL.md`): size limit; parse as JSON;
//! read the signer's key from the signer field and refuse weak keys; verify the
//! signature with `verify_strict` over the exact bytes received; check the bytes
//! are canonical; only then decode into the typed value and validate it.

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::canonical::{check_canonical, check_value, to_canonical_bytes};
use crate::decode::decode_value;
use crate::error::{CanonicalError, DecodeError, ValidationErrors, VerifyError};
use crate::identity::{NodeId, NodeKey, SignatureBytes};
use crate::key::VersionHash;

/// A protocol object type that nodes sign.
///
/// Implementations decode strictly (`deny_unknown_fields`), so that a typed
/// value holds everything its signed bytes say.
pub trait Signable: Serialize + DeserializeOwned + Sized {
    /// Domain-separation context, unique per object type (ASCII, e.g.
    /// `seednet record v1`).
    const CONTEXT: &'static str;
    /// Most bytes of the canonical form; a larger object is neither signed
    /// nor verified.
    const BYTES_MAX: usize;
    /// Name of the top-level field holding the signer's [`NodeId`].
    const SIGNER_FIELD: &'static str;

    /// The node whose key must sign the object: the value of
    /// [`Signable::SIGNER_FIELD`].
    fn signer(&self) -> NodeId;
    /// Checks the rules the types do not express; returns every broken rule.
    /// Run before signing and after verifying, so no invalid object is
    /// either signed or accepted.
    fn validate(&self) -> Result<(), ValidationErrors>;
}

/// The message that is signed for `canonical_bytes` of type `T`:
/// `T::CONTEXT || 0x00 || canonical_bytes`.
pub fn signed_message<T: Signable>(canonical_bytes: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(T::CONTEXT.len() + 1 + canonical_bytes.len());
    message.extend_from_slice(T::CONTEXT.as_bytes());
    message.push(0);
    message.extend_from_slice(canonical_bytes);
    message
}

/// A verified (or freshly signed) object: the exact canonical bytes, their
/// signature, and the typed value decoded from those bytes. There is no way to
/// build one without checking the signature, so holding a `Signed<T>` means the
/// bytes are authentic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed<T> {
    bytes: Vec<u8>,
    signature: SignatureBytes,
    value: T,
}

/// The wire form of a signed object:
/// `{"signed": <canonical JSON>, "signature": "<128 hex digits>"}`.
///
/// Nothing here is checked yet; [`Signed::from_wire`] verifies it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedWire {
    /// The signed object, byte-exact as received (raw JSON, never
    /// re-serialised).
    pub signed: Box<RawValue>,
    /// The ed25519 signature over the signed message of those bytes.
    pub signature: SignatureBytes,
}

/// Why an object could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The object's signer field names another node than the key's.
    #[error("the object names signer {named} but the key is {key}")]
    WrongKey {
        /// The node the object names as its signer.
        named: NodeId,
        /// The node of the key that was to sign.
        key: NodeId,
    },
    /// The object breaks a rule ([`DecodeError::Invalid`]), cannot be encoded
    /// canonically ([`DecodeError::Canonical`]) or is over
    /// [`Signable::BYTES_MAX`] ([`DecodeError::TooLarge`]).
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl<T: Signable> Signed<T> {
    /// Validates `value`, encodes it canonically and signs it with `key`.
    /// Fails, signing nothing, when `key` is not the value's signer or the
    /// value is invalid, not encodable or too large ([`SignError`]).
    pub fn sign(key: &NodeKey, value: T) -> Result<Self, SignError> {
        if value.signer() != key.node_id() {
            return Err(SignError::WrongKey {
                named: value.signer(),
                key: key.node_id(),
            });
        }
        value.validate().map_err(DecodeError::Invalid)?;
        let bytes = to_canonical_bytes(&value).map_err(DecodeError::Canonical)?;
        if bytes.len() > T::BYTES_MAX {
            return Err(SignError::Decode(DecodeError::TooLarge {
                max: T::BYTES_MAX,
                actual: bytes.len(),
            }));
        }
        let signature = key.sign_message(&signed_message::<T>(&bytes));
        Ok(Signed {
            bytes,
            signature,
            value,
        })
    }

    /// Verifies `bytes` and `signature` and decodes the object, in the order
    /// of the module documentation. The first failing step refuses it:
    /// [`VerifyError::TooLarge`]; not JSON ([`VerifyError::Canonical`]);
    /// [`VerifyError::Signer`]; [`VerifyError::BadSignature`]; the number or
    /// canonical-form rules ([`VerifyError::Canonical`]); the shape or the
    /// rules of `T` ([`VerifyError::Decode`]).
    pub fn verify(bytes: &[u8], signature: SignatureBytes) -> Result<Self, VerifyError> {
        let prepared = Prepared::<T>::parse(bytes)?;
        let key = prepared.signer.verifying_key();
        key.verify_strict(
            &signed_message::<T>(bytes),
            &Signature::from_bytes(&signature.0),
        )
        .map_err(|_| VerifyError::BadSignature)?;
        prepared.finish(bytes, signature)
    }

    /// Verifies an object received in wire form, like [`Signed::verify`].
    pub fn from_wire(wire: &SignedWire) -> Result<Self, VerifyError> {
        Self::verify(wire.signed.get().as_bytes(), wire.signature)
    }

    /// The wire form, carrying the exact signed bytes.
    pub fn to_wire(&self) -> SignedWire {
        let text = std::str::from_utf8(&self.bytes).expect("canonical JSON is UTF-8");
        SignedWire {
            signed: RawValue::from_string(text.to_string()).expect("canonical JSON is valid JSON"),
            signature: self.signature,
        }
    }

    /// The exact canonical bytes that were signed: what a node stores and
    /// relays.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The signature over [`signed_message`] of the bytes.
    pub fn signature(&self) -> SignatureBytes {
        self.signature
    }

    /// The typed value decoded from the bytes.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The typed value, dropping the bytes and signature.
    pub fn into_value(self) -> T {
        self.value
    }

    /// SHA-256 of the canonical bytes.
    pub fn hash(&self) -> VersionHash {
        VersionHash::of(&self.bytes)
    }
}

/// Bytes parsed far enough to know the signer, before the signature check.
struct Prepared<T> {
    value: serde_json::Value,
    signer: NodeId,
    _type: std::marker::PhantomData<T>,
}

impl<T: Signable> Prepared<T> {
    fn parse(bytes: &[u8]) -> Result<Self, VerifyError> {
        if bytes.len() > T::BYTES_MAX {
            return Err(VerifyError::TooLarge {
                max: T::BYTES_MAX,
                actual: bytes.len(),
            });
        }
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| VerifyError::Canonical(CanonicalError::Json(e.to_string())))?;
        let signer_text = value
            .get(T::SIGNER_FIELD)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| VerifyError::Signer {
                field: T::SIGNER_FIELD,
                reason: "missing or not a string".into(),
            })?;
        let signer: NodeId = signer_text
            .parse()
            .map_err(|e: crate::error::IdentityError| VerifyError::Signer {
                field: T::SIGNER_FIELD,
                reason: e.to_string(),
            })?;
        Ok(Prepared {
            value,
            signer,
            _type: std::marker::PhantomData,
        })
    }

    /// After the signature check: canonical form, typed decoding, validation.
    fn finish(self, bytes: &[u8], signature: SignatureBytes) -> Result<Signed<T>, VerifyError> {
        check_value(&self.value)?;
        check_canonical(bytes)?;
        let value: T = decode_value(self.value).map_err(VerifyError::Decode)?;
        value
            .validate()
            .map_err(|errors| VerifyError::Decode(DecodeError::Invalid(errors)))?;
        Ok(Signed {
            bytes: bytes.to_vec(),
            signature,
            value,
        })
    }
}

/// True when the signature's R component is a small-order point, which
/// `verify_strict` refuses and batch verification would not notice.
fn has_small_order_r(signature: &SignatureBytes) -> bool {
    let mut r = [0u8; 32];
    r.copy_from_slice(&signature.0[..32]);
    match CompressedEdwardsY(r).decompress() {
        Some(point) => point.is_small_order(),
        None => true,
    }
}

/// Verifies many objects at once. The result has one entry per input, in
/// order. Accepts exactly what [`Signed::verify`] accepts: keys are checked
/// for weakness at parse time and small-order R values are refused before the
/// batch equation, and when the batch fails each object is verified alone to
/// find the bad ones.
pub fn verify_batch<T: Signable>(
    items: &[(&[u8], SignatureBytes)],
) -> Vec<Result<Signed<T>, VerifyError>> {
    let prepared: Vec<Result<Prepared<T>, VerifyError>> = items
        .iter()
        .map(|(bytes, signature)| {
            if has_small_order_r(signature) {
                return Err(VerifyError::BadSignature);
            }
            Prepared::<T>::parse(bytes)
        })
        .collect();
    let mut messages = Vec::new();
    let mut signatures = Vec::new();
    let mut keys: Vec<VerifyingKey> = Vec::new();
    for (ready, (bytes, signature)) in prepared.iter().zip(items) {
        if let Ok(ready) = ready {
            messages.push(signed_message::<T>(bytes));
            signatures.push(Signature::from_bytes(&signature.0));
            keys.push(ready.signer.verifying_key());
        }
    }
    let message_refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let batch_ok =
        !keys.is_empty() && ed25519_dalek::verify_batch(&message_refs, &signatures, &keys).is_ok();
    prepared
        .into_iter()
        .zip(items)
        .map(|(ready, (bytes, signature))| {
            let ready = ready?;
            if !batch_ok {
                ready
                    .signer
                    .verifying_key()
                    .verify_strict(
                        &signed_message::<T>(bytes),
                        &Signature::from_bytes(&signature.0),
                    )
                    .map_err(|_| VerifyError::BadSignature)?;
            }
            ready.finish(bytes, *signature)
        })
        .collect()
}
