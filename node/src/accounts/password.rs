//! Password hashing: argon2id through the RustCrypto `argon2` crate.
//!
//! Why argon2id: it is the memory-hard function OWASP and RFC 9106 recommend
//! for passwords; a stolen data dir then costs an attacker about 19 MiB of
//! memory and two passes over it per guess, on every core they use. Each hash
//! has its own random 16-byte salt (from the operating system's generator),
//! so two people with the same password get different hashes and no table
//! can be precomputed. The stored form is the PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`): it carries its own
//! parameters, so raising [`ARGON2_MEMORY_KIB`] or [`ARGON2_ITERATIONS`]
//! later keeps old hashes verifiable.
//!
//! Hashing and verifying take tens of milliseconds of CPU on purpose: both
//! are blocking calls, run on `spawn_blocking` threads, never on the async
//! runtime. Passwords are never logged nor stored in any other form.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory per hash, in KiB (19 MiB: the OWASP minimum for argon2id with two
/// iterations).
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
/// Passes over the memory.
pub const ARGON2_ITERATIONS: u32 = 2;
/// Lanes (degree of parallelism) of one hash: one, so one sign-in uses one core.
pub const ARGON2_LANES: u32 = 1;
/// Length of the derived hash, in bytes.
pub const ARGON2_OUTPUT_BYTES: usize = 32;
/// Shortest password accepted, in characters. Length is what makes a
/// password hard to guess; no composition rules are imposed (NIST SP 800-63B).
pub const PASSWORD_CHARS_MIN: usize = 12;
/// Longest password accepted, in characters (bounds the hashing work of one
/// request; a passphrase of ten words fits easily).
pub const PASSWORD_CHARS_MAX: usize = 128;

/// Why a password cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRule {
    #[error("the password must have at least {min} characters")]
    TooShort { min: usize },
    #[error("the password may have at most {max} characters")]
    TooLong { max: usize },
}

/// A failure of the hash function or a stored hash that cannot be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("password hash: {0}")]
pub struct HashError(pub String);

/// Checks the length limits of a new password.
pub fn check_rules(password: &str) -> Result<(), PasswordRule> {
    let chars = password.chars().count();
    if chars < PASSWORD_CHARS_MIN {
        return Err(PasswordRule::TooShort {
            min: PASSWORD_CHARS_MIN,
        });
    }
    if chars > PASSWORD_CHARS_MAX {
        return Err(PasswordRule::TooLong {
            max: PASSWORD_CHARS_MAX,
        });
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(
        ARGON2_MEMORY_KIB,
        ARGON2_ITERATIONS,
        ARGON2_LANES,
        Some(ARGON2_OUTPUT_BYTES),
    )
    .expect("the named argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of `password` with a fresh random salt. Blocking (tens of
/// milliseconds of CPU).
pub fn hash(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| HashError(error.to_string()))
}

/// Whether `password` matches the stored PHC string `stored` (compared in
/// constant time by the crate). A stored string that is not an argon2id
/// hash is an error, not a mismatch. Blocking.
pub fn verify(password: &str, stored: &str) -> Result<bool, HashError> {
    let parsed = PasswordHash::new(stored).map_err(|error| HashError(error.to_string()))?;
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return Err(HashError(format!(
            "stored hash uses {}, not argon2id",
            parsed.algorithm
        )));
    }
    match hasher().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(error) => Err(HashError(error.to_string())),
    }
}

/// A hash no password is known for, verified against when a sign-in names
/// an unknown account, so that an unknown username takes as long to refuse
/// as a wrong password (no telling which usernames exist by timing).
static DECOY_HASH: LazyLock<String> =
    LazyLock::new(|| hash(&super::random_secret()).expect("hashing a decoy password"));

/// Spends the time of one verification, for an unknown account. Blocking.
pub fn verify_decoy(password: &str) {
    let _ = verify(password, &DECOY_HASH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_verify_and_differ_by_salt() {
        let first = hash("correct horse battery").unwrap();
        let second = hash("correct horse battery").unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "each hash has its own salt");
        assert!(verify("correct horse battery", &first).unwrap());
        assert!(verify("correct horse battery", &second).unwrap());
        assert!(!verify("correct horse batterY", &first).unwrap());
        assert!(!verify("", &first).unwrap());
        assert!(
            !first.contains("correct"),
            "the password is not in the hash"
        );
    }

    #[test]
    fn a_stored_hash_of_another_kind_is_an_error_not_a_match() {
        assert!(verify("anything", "not a phc string").is_err());
        let argon2i = "$argon2i$v=19$m=16,t=2,p=1$c29tZXNhbHQ$Ac0cxVhbE0CBjiQqqw7S3A";
        assert!(verify("anything", argon2i).is_err());
    }

    #[test]
    fn password_length_limits_are_enforced() {
        let min = "a".repeat(PASSWORD_CHARS_MIN);
        assert_eq!(check_rules(&min), Ok(()));
        assert_eq!(
            check_rules(&min[1..]),
            Err(PasswordRule::TooShort {
                min: PASSWORD_CHARS_MIN
            })
        );
        // Characters, not bytes: twelve Greek letters are enough.
        assert_eq!(check_rules(&"λ".repeat(PASSWORD_CHARS_MIN)), Ok(()));
        assert_eq!(check_rules(&"a".repeat(PASSWORD_CHARS_MAX)), Ok(()));
        assert_eq!(
            check_rules(&"a".repeat(PASSWORD_CHARS_MAX + 1)),
            Err(PasswordRule::TooLong {
                max: PASSWORD_CHARS_MAX
            })
        );
    }
}
