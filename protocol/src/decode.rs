//! Strict JSON decoding shared by every signed type: unknown fields and
//! trailing bytes are refused, and a shape error names the path of the
//! offending field (`content.title`; `$` for the whole document), which the
//! node's API passes on as the error's `field`.

use serde::de::DeserializeOwned;

use crate::error::DecodeError;

/// Strict JSON decoding with the path of the offending field in the error.
pub(crate) fn decode_json<T: DeserializeOwned>(json: &[u8]) -> Result<T, DecodeError> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(shape_error)?;
    deserializer.end().map_err(|e| DecodeError::Shape {
        path: "$".into(),
        message: e.to_string(),
    })?;
    Ok(value)
}

/// Typed decoding of an already parsed JSON value, with the field path.
pub(crate) fn decode_value<T: DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(value).map_err(shape_error)
}

fn shape_error(error: serde_path_to_error::Error<serde_json::Error>) -> DecodeError {
    let path = error.path().to_string();
    let path = if path == "." { "$".to_string() } else { path };
    DecodeError::Shape {
        path,
        message: error.into_inner().to_string(),
    }
}
