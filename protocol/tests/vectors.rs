//! Checks every test vector in `tests/vectors/` against this implementation.
//!
//! The same files are checked by an independent Python implementation
//! (`check_vectors.py`), so together they pin the wire format down.

use std::path::Path;

use seednet_protocol::{
    signed_message, CanonicalError, NodeDescriptor, NodeKey, Record, SignatureBytes, Signed,
    VerifyError,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

struct Vector {
    name: String,
    json: Value,
}

impl Vector {
    fn str(&self, field: &str) -> &str {
        self.json[field]
            .as_str()
            .unwrap_or_else(|| panic!("{}: {field} is a string", self.name))
    }
}

fn load_vectors() -> Vec<Vector> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut vectors: Vec<Vector> = std::fs::read_dir(&directory)
        .expect("vectors directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| Vector {
            name: path.file_name().unwrap().to_string_lossy().into_owned(),
            json: serde_json::from_slice(&std::fs::read(&path).unwrap()).expect("vector JSON"),
        })
        .collect();
    vectors.sort_by(|a, b| a.name.cmp(&b.name));
    vectors
}

/// Verifies a vector's bytes as its object type; returns the error, if any.
fn verify(vector: &Vector) -> Result<(), VerifyError> {
    let bytes = vector.str("canonical").as_bytes();
    let signature: SignatureBytes = vector.str("signature_hex").parse().expect("signature hex");
    match vector.str("object") {
        "record" => Signed::<Record>::verify(bytes, signature).map(|_| ()),
        "node_descriptor" => Signed::<NodeDescriptor>::verify(bytes, signature).map(|_| ()),
        other => panic!("{}: unknown object {other}", vector.name),
    }
}

fn message(vector: &Vector) -> Vec<u8> {
    let bytes = vector.str("canonical").as_bytes();
    match vector.str("object") {
        "record" => signed_message::<Record>(bytes),
        _ => signed_message::<NodeDescriptor>(bytes),
    }
}

#[test]
fn there_are_enough_vectors_of_each_kind() {
    let vectors = load_vectors();
    assert!(vectors.len() >= 12, "need at least 12 vectors");
    let failures: Vec<&str> = vectors
        .iter()
        .filter_map(|v| v.json["failure"].as_str())
        .collect();
    for needed in ["signature", "weak_key", "canonical", "number", "content"] {
        assert!(failures.contains(&needed), "no vector fails with {needed}");
    }
}

#[test]
fn every_vector_verifies_or_fails_as_stated() {
    for vector in load_vectors() {
        let name = &vector.name;
        let result = verify(&vector);
        let expected_valid = vector.json["valid"].as_bool().expect("valid flag");
        assert_eq!(result.is_ok(), expected_valid, "{name}: {result:?}");
        let failure = vector.json["failure"].as_str();
        match (failure, &result) {
            (None, Ok(())) => {}
            (Some("signature"), Err(VerifyError::BadSignature)) => {}
            (Some("weak_key"), Err(VerifyError::Signer { .. })) => {}
            (Some("canonical"), Err(VerifyError::Canonical(CanonicalError::NotCanonical))) => {}
            (
                Some("number"),
                Err(VerifyError::Canonical(CanonicalError::FloatNotAllowed { .. })),
            )
            | (
                Some("number"),
                Err(VerifyError::Canonical(CanonicalError::IntegerOutOfRange { .. })),
            ) => {}
            (Some("content"), Err(VerifyError::Decode(_))) => {}
            (expected, got) => panic!("{name}: expected failure {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn hashes_messages_and_keys_match() {
    for vector in load_vectors() {
        let name = &vector.name;
        let bytes = vector.str("canonical").as_bytes();
        assert_eq!(
            hex::encode(Sha256::digest(bytes)),
            vector.str("sha256_hex"),
            "{name}"
        );
        assert_eq!(
            hex::encode(message(&vector)),
            vector.str("signed_message_hex"),
            "{name}"
        );
        if let Some(seed_hex) = vector.json["secret_key_seed_hex"].as_str() {
            let mut seed = [0u8; 32];
            hex::decode_to_slice(seed_hex, &mut seed).unwrap();
            let key = NodeKey::from_seed(seed);
            assert_eq!(
                key.node_id().to_hex(),
                vector.str("public_key_hex"),
                "{name}"
            );
        }
    }
}

#[test]
fn valid_vectors_are_the_jcs_form_of_their_record_and_re_sign_identically() {
    for vector in load_vectors().iter().filter(|v| v.json["valid"] == true) {
        let name = &vector.name;
        let canonical = serde_json_canonicalizer::to_string(&vector.json["record"]).unwrap();
        assert_eq!(canonical, vector.str("canonical"), "{name}");
        let mut seed = [0u8; 32];
        hex::decode_to_slice(vector.str("secret_key_seed_hex"), &mut seed).unwrap();
        let signature = NodeKey::from_seed(seed).sign_message(&message(vector));
        assert_eq!(signature.to_hex(), vector.str("signature_hex"), "{name}");
    }
}

/// Decoding and re-encoding a typed value is stable: it may add defaults
/// (`license`), but a second round changes nothing and loses no field.
#[test]
fn typed_values_round_trip() {
    use seednet_protocol::to_canonical_bytes;
    for vector in load_vectors().iter().filter(|v| v.json["valid"] == true) {
        let bytes = vector.str("canonical").as_bytes();
        let signature: SignatureBytes = vector.str("signature_hex").parse().unwrap();
        if vector.str("object") == "record" {
            let record = Signed::<Record>::verify(bytes, signature)
                .unwrap()
                .into_value();
            let once = to_canonical_bytes(&record).unwrap();
            let again: Record = serde_json::from_slice(&once).unwrap();
            assert_eq!(again, record, "{}", vector.name);
            assert_eq!(to_canonical_bytes(&again).unwrap(), once, "{}", vector.name);
        } else {
            let descriptor = Signed::<NodeDescriptor>::verify(bytes, signature).unwrap();
            let once = to_canonical_bytes(descriptor.value()).unwrap();
            assert_eq!(once, bytes, "{}", vector.name);
        }
    }
}

#[test]
fn batch_verification_agrees_with_single_verification() {
    let vectors: Vec<Vector> = load_vectors()
        .into_iter()
        .filter(|v| v.str("object") == "record")
        .collect();
    let signatures: Vec<SignatureBytes> = vectors
        .iter()
        .map(|v| v.str("signature_hex").parse().unwrap())
        .collect();
    let items: Vec<(&[u8], SignatureBytes)> = vectors
        .iter()
        .zip(&signatures)
        .map(|(v, s)| (v.str("canonical").as_bytes(), *s))
        .collect();
    let batch = seednet_protocol::verify_batch::<Record>(&items);
    for (vector, result) in vectors.iter().zip(batch) {
        assert_eq!(
            result.is_ok(),
            vector.json["valid"] == true,
            "{}",
            vector.name
        );
    }
    // A batch of valid records only takes the fast path and accepts all.
    let valid: Vec<(&[u8], SignatureBytes)> = items
        .iter()
        .zip(&vectors)
        .filter(|(_, v)| v.json["valid"] == true)
        .map(|(item, _)| *item)
        .collect();
    assert!(seednet_protocol::verify_batch::<Record>(&valid)
        .iter()
        .all(Result::is_ok));
}
