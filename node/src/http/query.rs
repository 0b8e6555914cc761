//! Query strings decoded strictly: a parameter whose percent-decoded bytes
//! are not UTF-8 is an error naming it, never silently replaced by U+FFFD
//! (which `url::form_urlencoded::parse` does, so `q=%FF%FE` searched for
//! two replacement characters).

/// The first parameter of a query string that is not UTF-8 once decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidUtf8 {
    /// The parameter's name (itself decoded lossily, at most
    /// [`SHOWN_NAME_CHARS_MAX`] characters), for the error's `field`.
    pub name: String,
}

/// Longest parameter name repeated in an error.
pub const SHOWN_NAME_CHARS_MAX: usize = 40;

fn decode(part: &str) -> Vec<u8> {
    let bytes = part.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match byte {
            b'+' => decoded.push(b' '),
            b'%' => match (hex(index + 1), hex(index + 2)) {
                (Some(high), Some(low)) => {
                    decoded.push((high * 16 + low) as u8);
                    index += 2;
                }
                _ => decoded.push(b'%'),
            },
            other => decoded.push(other),
        }
        index += 1;
    }
    decoded
}

/// The name and value pairs of `raw` (`application/x-www-form-urlencoded`),
/// or the first parameter, by name or value, that is not UTF-8.
pub fn parse_strict(raw: &str) -> Result<Vec<(String, String)>, InvalidUtf8> {
    let mut pairs = Vec::new();
    for part in raw.split('&').filter(|part| !part.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let (name, value) = (decode(name), decode(value));
        match (String::from_utf8(name), String::from_utf8(value)) {
            (Ok(name), Ok(value)) => pairs.push((name, value)),
            (name, _) => {
                let name = match name {
                    Ok(name) => name,
                    Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
                };
                return Err(InvalidUtf8 {
                    name: name.chars().take(SHOWN_NAME_CHARS_MAX).collect(),
                });
            }
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_form_urlencoded_and_refuses_what_is_not_utf8() {
        let raw = "q=co-progettazione+e%20citt%C3%A0&lang=it&&empty=&flag&bad%=x%2";
        let ours = parse_strict(raw).unwrap();
        let theirs: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        assert_eq!(ours, theirs);
        assert_eq!(ours[0].1, "co-progettazione e città");

        let refused = |raw: &str| parse_strict(raw).unwrap_err().name;
        assert_eq!(refused("lang=it&q=%FF%FE"), "q");
        assert_eq!(refused("q=%C3"), "q", "a cut sequence");
        assert_eq!(
            refused("%FFx=1"),
            "\u{FFFD}x",
            "a bad name is shown lossily"
        );
    }
}
