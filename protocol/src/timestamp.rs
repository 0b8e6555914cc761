//! Timestamps: RFC 3339 in UTC with a `Z` suffix (`2026-11-23T18:02:28Z`),
//! optionally with a fraction of a second. Other offsets are refused so that
//! one instant has one spelling in signed bytes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// An instant in UTC, as signed records and descriptors carry it.
///
/// Parsing ([`FromStr`], JSON) accepts only the `Z` spelling with an upper-case
/// `T`; [`Display`](fmt::Display) writes RFC 3339 with `Z`, and a fraction of a
/// second only when there is one. Order is the order of instants.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

/// Text that is not an RFC 3339 UTC timestamp; holds the text as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an RFC 3339 UTC timestamp like 2026-11-23T18:02:28Z")]
pub struct TimestampError(pub String);

impl Timestamp {
    /// From Unix seconds (whole seconds: what this node writes). `None` when
    /// the instant is outside the years -9999 to 9999. Only the years 0 to
    /// 9999 have a text form: displaying or serialising an earlier instant
    /// panics.
    pub fn from_unix_seconds(seconds: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp(seconds)
            .ok()
            .map(Timestamp)
    }

    /// Seconds since the Unix epoch, a fraction of a second dropped.
    pub fn unix_seconds(&self) -> i64 {
        self.0.unix_timestamp()
    }

    /// The calendar year in UTC.
    pub fn year(&self) -> i32 {
        self.0.year()
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if !text.ends_with('Z') || text.len() > 40 || text.as_bytes().get(10) != Some(&b'T') {
            return Err(TimestampError(text.to_string()));
        }
        let parsed =
            OffsetDateTime::parse(text, &Rfc3339).map_err(|_| TimestampError(text.to_string()))?;
        if parsed.offset() != UtcOffset::UTC {
            return Err(TimestampError(text.to_string()));
        }
        Ok(Timestamp(parsed))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.format(&Rfc3339).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_utc_only() {
        let t: Timestamp = "2026-11-23T18:02:28Z".parse().unwrap();
        assert_eq!(t.to_string(), "2026-11-23T18:02:28Z");
        assert!("2026-11-23T18:02:28.5Z".parse::<Timestamp>().is_ok());
        assert!("2026-11-23T18:02:28+01:00".parse::<Timestamp>().is_err());
        assert!("2026-11-23T18:02:28+00:00".parse::<Timestamp>().is_err());
        assert!("2026-11-23 18:02:28Z".parse::<Timestamp>().is_err());
        assert!("yesterday".parse::<Timestamp>().is_err());
    }
}
