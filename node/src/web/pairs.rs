//! Query strings and form bodies as name/value pairs: what every page,
//! the feeds and the OAI-PMH endpoint read their arguments from.

/// Parses a query string or form body into pairs.
pub fn parse_pairs(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

/// The first value of `name`, if any.
pub fn pair<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}
