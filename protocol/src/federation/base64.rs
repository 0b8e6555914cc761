//! Standard base64 with padding (RFC 4648 section 4), as RFC 8941 byte
//! sequences use it in `Signature` and `Content-Digest` header values.
//!
//! Written here rather than taken from a crate because the protocol crate needs
//! only these two strict functions, and keeping its dependency list short keeps
//! it easy to audit. Decoding is strict: padding is required, and unused bits
//! in the last character must be zero, so one byte string has one spelling.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes `bytes` as padded standard base64.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let triple = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let sextet = |shift: u32| ALPHABET[((triple >> shift) & 0x3f) as usize] as char;
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

/// Text that is not strict padded standard base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not padded standard base64")]
pub(crate) struct Base64Error;

fn value_of(c: u8) -> Result<u32, Base64Error> {
    let value = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return Err(Base64Error),
    };
    Ok(u32::from(value))
}

/// Decodes strict padded standard base64.
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return Err(Base64Error);
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let chunk_count = bytes.len() / 4;
    for (index, chunk) in bytes.chunks(4).enumerate() {
        let is_last = index + 1 == chunk_count;
        let padding = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 || (padding > 0 && !is_last) {
            return Err(Base64Error);
        }
        let mut triple = 0u32;
        for (position, &c) in chunk.iter().enumerate() {
            let value = if position >= 4 - padding {
                0
            } else {
                value_of(c)?
            };
            triple = (triple << 6) | value;
        }
        let decoded = [(triple >> 16) as u8, (triple >> 8) as u8, triple as u8];
        let kept = 3 - padding;
        // Unused bits of the last character must be zero (canonical spelling).
        if decoded[kept..].iter().any(|&b| b != 0) {
            return Err(Base64Error);
        }
        out.extend_from_slice(&decoded[..kept]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors_round_trip() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded).unwrap(), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&all)).unwrap(), all);
    }

    #[test]
    fn refuses_sloppy_spellings() {
        for bad in [
            "Zg", "Zg=", "Zh==", "Zm9=", "Zg==Zg==", "Z===", "Zm-v", "Zm9v\n",
        ] {
            assert_eq!(decode(bad), Err(Base64Error), "{bad:?}");
        }
    }
}
