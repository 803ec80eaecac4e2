//! Content hashes for swarm object names and image tags, and random bytes.

use ring::digest;

pub fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&sha256(data))
}

/// A short content hash (first `n` hex digits of SHA-256).
pub fn short(data: &[u8], n: usize) -> String {
    let mut h = sha256_hex(data);
    h.truncate(n);
    h
}

/// A keyed short hash for secret values: without the key the name is no oracle for the value.
pub fn keyed_short(key: &[u8], data: &[u8], n: usize) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut h = hex(ring::hmac::sign(&k, data).as_ref());
    h.truncate(n);
    h
}

/// `n` random bytes from the OS.
pub fn random_bytes(n: usize) -> Vec<u8> {
    use ring::rand::SecureRandom;
    let mut v = vec![0u8; n];
    ring::rand::SystemRandom::new()
        .fill(&mut v)
        .expect("the OS random number generator failed");
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(short(b"abc", 10), "ba7816bf8f");
        assert_ne!(
            keyed_short(b"k1", b"abc", 10),
            keyed_short(b"k2", b"abc", 10)
        );
    }
}
