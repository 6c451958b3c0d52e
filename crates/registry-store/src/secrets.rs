//! Random values and hashes made in the server: request ids, API tokens, checksums. Tokens
//! are hashed here and only their hash reaches PostgreSQL, so a token can never appear in a
//! database log or statement statistics.

use sha2::{Digest as _, Sha256};

use crate::audit::hex;
use crate::error::StoreError;

/// `n` random bytes from the operating system's generator.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Internal(format!("no random numbers: {e}")))?;
    Ok(bytes)
}

/// `N` random bytes as hex: passwords and tokens.
pub fn random_hex<const N: usize>() -> Result<String, StoreError> {
    Ok(hex(&random_bytes::<N>()?))
}

/// A random (version 4) UUID in its usual text form.
pub(crate) fn uuid_v4() -> Result<String, StoreError> {
    let mut bytes: [u8; 16] = random_bytes()?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex(&bytes);
    Ok(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// SHA-256 of `bytes` as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha256(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4() {
        let id = uuid_v4().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_ne!(uuid_v4().unwrap(), id);
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
