//! The node's one reading of the wall clock.
//!
//! Signed statements carry second-precision timestamps, request signatures
//! are checked against the current Unix second, and tokens and nonces expire
//! by it: every part reads the time here, so there is one place to look when
//! a clock question comes up (and one place a test could ever replace).

use seednet_protocol::Timestamp;

/// Seconds since the Unix epoch, now.
pub fn now_unix_seconds() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Now, as a protocol timestamp.
///
/// The protocol accepts any time from year 1970 to 9999, so a clock outside
/// that range is a broken machine, not an input to handle: it stops the
/// node with a message saying so.
pub fn now_timestamp() -> Timestamp {
    let seconds = now_unix_seconds();
    Timestamp::from_unix_seconds(seconds).unwrap_or_else(|| {
        panic!("the system clock reads {seconds} s since 1970, outside the range the protocol can sign; fix the clock")
    })
}

/// The current year (UTC), for form defaults.
pub fn this_year() -> i32 {
    time::OffsetDateTime::now_utc().year()
}
