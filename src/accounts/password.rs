//! Passwords: the policy (length, common passwords, not the email) and argon2id hashing off the async
//! executor, with a bound on concurrent hashes so a burst of sign-ins leaves CPU for other requests.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 1024;

/// OWASP's minimum for argon2id: 19 MiB of memory, 2 passes, 1 lane.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const LANES: u32 = 1;

/// The 10,000 most frequent passwords of the zxcvbn frequency list, plus every one of 12 or more characters
/// among its 30,000, lower-cased.
static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common-passwords.txt").lines().filter(|l| !l.is_empty()).collect());

/// Why a new password is refused, or `None` when it is acceptable. No composition rules: length and
/// guessability only.
pub fn check_policy(password: &str, email: &str) -> Option<String> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Some(format!("Use at least {MIN_LENGTH} characters; a few unrelated words make a good password."));
    }
    if length > MAX_LENGTH {
        return Some(format!("Use at most {MAX_LENGTH} characters."));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return Some("This is one of the most common passwords; choose another.".into());
    }
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    if (!email.is_empty() && lower.contains(&email)) || (local.len() >= 4 && lower.contains(local)) {
        return Some("The password must not contain your email address.".into());
    }
    None
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password as a PHC string (synchronous; call through [`Hasher`]).
pub fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let salt = SaltString::encode_b64(&bytes)?;
    Ok(argon2().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Right, and the stored hash uses other parameters than today's: store this new hash.
    YesRehashed(String),
}

/// Checks a password against a PHC string; a malformed hash counts as a mismatch.
pub fn verify_blocking(password: &str, phc: &str) -> Verified {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return Verified::No;
    };
    if argon2().verify_password(password.as_bytes(), &parsed).is_err() {
        return Verified::No;
    }
    let current = parsed.algorithm.as_str() == "argon2id"
        && parsed.params.get_decimal("m") == Some(MEMORY_KIB)
        && parsed.params.get_decimal("t") == Some(ITERATIONS)
        && parsed.params.get_decimal("p") == Some(LANES);
    if current {
        return Verified::Yes;
    }
    match hash_blocking(password) {
        Ok(new_hash) => Verified::YesRehashed(new_hash),
        Err(_) => Verified::Yes,
    }
}

/// A hash of a password nobody has, verified for unknown emails so the answer takes as long as for a
/// wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("steward-dummy-password-for-timing").unwrap_or_default());

/// Runs hashing on the blocking pool, at most `permits` at a time.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
}

impl Hasher {
    /// One fewer concurrent hash than the machine has cores (at least one), so requests that do not hash
    /// always find a core.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self::new(cores.saturating_sub(1).max(1))
    }

    pub fn new(permits: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(permits)) }
    }

    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let _permit = self.permits.acquire().await.map_err(|_| HashError)?;
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .map_err(|_| HashError)?
            .map_err(|_| HashError)
    }

    /// Verifies against `phc`, or against a dummy hash when there is no account, taking the same time.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<Verified, HashError> {
        let _permit = self.permits.acquire().await.map_err(|_| HashError)?;
        tokio::task::spawn_blocking(move || match phc {
            Some(phc) => verify_blocking(&password, &phc),
            None => {
                let _ = verify_blocking(&password, &DUMMY_HASH);
                Verified::No
            }
        })
        .await
        .map_err(|_| HashError)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(check_policy("short", "a@b.org").is_some());
        assert!(check_policy(&"x".repeat(1025), "a@b.org").is_some());
        assert!(check_policy("correct horse battery", "a@b.org").is_none());
        assert!(check_policy("my alice@example.org pw", "Alice@Example.org").is_some());
        assert!(check_policy("alicealicealice", "alice@example.org").is_some());
        assert!(COMMON.len() >= 10_000);
        assert!(check_policy("1qaz2wsx3edc", "a@b.org").is_some(), "a common long password");
        assert!(check_policy("QWERTY123456", "a@b.org").is_some(), "compared without case");
    }

    #[test]
    fn hashes_are_argon2id_phc_and_verify() {
        let hash = hash_blocking("a long enough passphrase").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(verify_blocking("a long enough passphrase", &hash), Verified::Yes);
        assert_eq!(verify_blocking("another passphrase!", &hash), Verified::No);
        assert_eq!(verify_blocking("x", "not a hash"), Verified::No);
    }
}
