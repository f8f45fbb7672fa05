//! Call ids: random (version 4) UUIDs drawn from the call's seeded stream, written as hyphenated
//! lower-case hex straight into a fixed buffer. The same text as the `uuid` crate's
//! `Builder::from_random_bytes(..).hyphenated().encode_lower(..)`, at a fraction of its cost
//! (a table lookup per byte instead of per-nibble formatting).

use super::super::rng::DocRng;

/// Length of a hyphenated UUID.
pub(crate) const LENGTH: usize = 36;

/// Two hex digits of every byte, `00` to `ff`.
const HEX_PAIRS: [[u8; 2]; 256] = {
    let digits = *b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [digits[i >> 4], digits[i & 15]];
        i += 1;
    }
    t
};

/// Where each byte's two digits go in the hyphenated text (8-4-4-4-12).
const OFFSETS: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/// A random (version 4, RFC 4122 variant) UUID from two draws of `rng`, hyphenated lower case.
#[inline]
pub(crate) fn uuid_v4(rng: &mut DocRng) -> [u8; LENGTH] {
    let mut bytes = random_bytes(rng);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut buf = [b'-'; LENGTH];
    for (b, at) in bytes.iter().zip(OFFSETS) {
        buf[at..at + 2].copy_from_slice(&HEX_PAIRS[usize::from(*b)]);
    }
    buf
}

/// The 16 random bytes of a call id: two draws, little-endian.
#[inline]
fn random_bytes(rng: &mut DocRng) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rand::Rng::next_u64(rng).to_le_bytes());
    bytes[8..].copy_from_slice(&rand::Rng::next_u64(rng).to_le_bytes());
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::rng;

    /// Byte for byte the `uuid` crate's version 4 UUID of the same random bytes.
    #[test]
    fn matches_the_uuid_crate() {
        for i in 0..100_000 {
            let mut a = rng::stream_rng(99, i);
            let bytes = random_bytes(&mut a.clone());
            let mut expected = [0u8; LENGTH];
            uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .hyphenated()
                .encode_lower(&mut expected);
            assert_eq!(uuid_v4(&mut a), expected, "draw {i}");
        }
    }
}
