//! The local proof-of-work challenge that guards signup (ALTCHA-style): the server
//! picks a secret number, sends `SHA-256(salt + number)` with an HMAC signature and an
//! expiry inside the salt; the browser finds the number by trying them all. Each
//! solution is accepted once.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::platform::tokens::{constant_time_eq, random_bytes};

/// How long a challenge can be solved and redeemed.
pub const CHALLENGE_SECONDS: i64 = 20 * 60;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Challenge {
    pub algorithm: String,
    pub challenge: String,
    pub salt: String,
    pub maxnumber: u64,
    pub signature: String,
}

/// A browser's answer to a challenge.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Solution {
    pub algorithm: String,
    pub challenge: String,
    pub salt: String,
    pub number: u64,
    pub signature: String,
}

fn sign(key: &[u8], challenge: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(challenge.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn digest(salt: &str, number: u64) -> String {
    hex::encode(Sha256::digest(format!("{salt}{number}").as_bytes()))
}

pub fn create(key: &[u8], max_number: u64, now: i64) -> Challenge {
    let salt = format!(
        "{}?expires={}",
        hex::encode(random_bytes::<12>()),
        now + CHALLENGE_SECONDS
    );
    let number = u64::from_le_bytes(random_bytes::<8>()) % (max_number + 1);
    let challenge = digest(&salt, number);
    Challenge {
        algorithm: "SHA-256".into(),
        signature: sign(key, &challenge),
        challenge,
        salt,
        maxnumber: max_number,
    }
}

/// Checks a solution; returns its expiry (for the single-use record) when valid.
pub fn verify(key: &[u8], solution: &Solution, now: i64) -> Option<i64> {
    if solution.algorithm != "SHA-256" {
        return None;
    }
    let expires: i64 = solution.salt.split_once("?expires=")?.1.parse().ok()?;
    if expires <= now {
        return None;
    }
    let expected_signature = sign(key, &solution.challenge);
    if !constant_time_eq(expected_signature.as_bytes(), solution.signature.as_bytes()) {
        return None;
    }
    (digest(&solution.salt, solution.number) == solution.challenge).then_some(expires)
}

/// Solves a challenge by brute force (the browser does this; tests and the CLI too).
pub fn solve(challenge: &Challenge) -> Option<Solution> {
    (0..=challenge.maxnumber)
        .find(|n| digest(&challenge.salt, *n) == challenge.challenge)
        .map(|number| Solution {
            algorithm: challenge.algorithm.clone(),
            challenge: challenge.challenge.clone(),
            salt: challenge.salt.clone(),
            number,
            signature: challenge.signature.clone(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solved_challenge_verifies_and_tampering_fails() {
        let key = b"k";
        let challenge = create(key, 2000, 1000);
        let solution = solve(&challenge).unwrap();
        assert!(verify(key, &solution, 1000).is_some());
        assert!(verify(key, &solution, 1000 + CHALLENGE_SECONDS).is_none());
        assert!(verify(b"other", &solution, 1000).is_none());
        let mut wrong = solution.clone();
        wrong.number += 1;
        assert!(verify(key, &wrong, 1000).is_none());
        let mut longer = solution;
        longer.salt = longer.salt.replace("?expires=", "?expires=9");
        assert!(verify(key, &longer, 1000).is_none());
    }
}
