//! Canonical JSON: RFC 8785 (JSON Canonicalization Scheme), restricted.
//!
//! The restriction makes canonical form unambiguous across languages: no
//! floating-point numbers (every number is an integer within ±(2^53 − 1)), a
//! bounded nesting depth, and no duplicate object keys (a duplicate makes the
//! bytes differ from their canonical re-encoding, so [`check_canonical`] refuses
//! them). The JCS serialisation itself is done by `serde_json_canonicalizer`.

use serde::Serialize;
use serde_json::Value;

use crate::error::CanonicalError;
use crate::limits::{JSON_DEPTH_MAX, JSON_SAFE_INTEGER_MAX};

/// Checks the number and depth rules on a parsed JSON value.
pub(crate) fn check_value(value: &Value) -> Result<(), CanonicalError> {
    check_value_at(value, &mut String::from("$"), 0)
}

fn check_value_at(value: &Value, path: &mut String, depth: usize) -> Result<(), CanonicalError> {
    if depth > JSON_DEPTH_MAX {
        return Err(CanonicalError::TooDeep {
            max: JSON_DEPTH_MAX,
        });
    }
    match value {
        Value::Number(number) => {
            let in_range = match (number.as_u64(), number.as_i64()) {
                (Some(unsigned), _) => unsigned <= JSON_SAFE_INTEGER_MAX,
                (None, Some(signed)) => signed.unsigned_abs() <= JSON_SAFE_INTEGER_MAX,
                (None, None) => return Err(CanonicalError::FloatNotAllowed { path: path.clone() }),
            };
            if !in_range {
                return Err(CanonicalError::IntegerOutOfRange { path: path.clone() });
            }
            Ok(())
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                check_value_at(item, path, depth + 1)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                check_value_at(item, path, depth + 1)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

/// Encodes any serialisable value canonically, enforcing the number rules.
pub fn to_canonical_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let json = serde_json::to_value(value).map_err(|e| CanonicalError::Json(e.to_string()))?;
    check_value(&json)?;
    serde_json_canonicalizer::to_vec(&json).map_err(|e| CanonicalError::Json(e.to_string()))
}

/// Parses `bytes` as JSON and checks that they are exactly the canonical
/// encoding of what they contain. Returns the parsed value.
pub(crate) fn check_canonical(bytes: &[u8]) -> Result<Value, CanonicalError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| CanonicalError::Json(e.to_string()))?;
    check_value(&value)?;
    let canonical = serde_json_canonicalizer::to_vec(&value)
        .map_err(|e| CanonicalError::Json(e.to_string()))?;
    if canonical != bytes {
        return Err(CanonicalError::NotCanonical);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_keys_and_strips_whitespace() {
        let bytes = to_canonical_bytes(&serde_json::json!({"b": 1, "a": [true, null]})).unwrap();
        assert_eq!(bytes, br#"{"a":[true,null],"b":1}"#);
    }

    #[test]
    fn refuses_floats_and_big_integers() {
        let float = serde_json::json!({"a": 1.5});
        assert!(
            matches!(check_value(&float), Err(CanonicalError::FloatNotAllowed { path }) if path == "$.a")
        );
        let big = serde_json::json!({"a": [JSON_SAFE_INTEGER_MAX + 1]});
        assert!(matches!(
            check_value(&big),
            Err(CanonicalError::IntegerOutOfRange { .. })
        ));
        let negative = serde_json::json!(-(JSON_SAFE_INTEGER_MAX as i64));
        assert!(check_value(&negative).is_ok());
    }

    #[test]
    fn refuses_non_canonical_and_duplicate_keys() {
        assert!(check_canonical(br#"{"a":1,"b":2}"#).is_ok());
        assert_eq!(
            check_canonical(br#"{"b":2,"a":1}"#),
            Err(CanonicalError::NotCanonical)
        );
        assert_eq!(
            check_canonical(br#"{"a": 1}"#),
            Err(CanonicalError::NotCanonical)
        );
        assert_eq!(
            check_canonical(br#"{"a":1,"a":1}"#),
            Err(CanonicalError::NotCanonical)
        );
        assert_eq!(
            check_canonical(br#"{"a":"\u00e9"}"#),
            Err(CanonicalError::NotCanonical)
        );
    }

    #[test]
    fn refuses_deep_nesting() {
        let deep = "[".repeat(40) + &"]".repeat(40);
        assert!(matches!(
            check_canonical(deep.as_bytes()),
            Err(CanonicalError::TooDeep { .. })
        ));
    }
}
