//! The two fingerprints of a contribution: its content hash (exact duplicates) and its
//! quantized sample (near duplicates). Both are defined here and nowhere else.

use sha2::{Digest, Sha256};

use super::types::{ContentHash, Leaf};

/// Domain tag that starts every content-hash preimage.
pub const CONTENT_HASH_TAG: &[u8] = b"openpoa-datanet-contribution-v1";

/// Fractional bits of the fixed datanet precision at which two samples count as the same:
/// a value `v` becomes `round(v · 2^8)`, so values closer than about 2^-9 (≈ 0.002) coincide.
pub const NEAR_DUPLICATE_BITS: u32 = 8;

/// SHA-256 of a contribution's sample and label over a canonical, length-prefixed encoding:
///
/// ```text
/// "openpoa-datanet-contribution-v1"          (CONTENT_HASH_TAG, 31 bytes)
/// u64 LE  number of sample values n
/// n × u32 LE  f32::to_bits of each value     (so 0.0 and -0.0 differ; no rounding)
/// u32 LE  label
/// ```
///
/// The contributor and the time are not part of it: the same sample and label from two people
/// is the same content.
pub fn content_hash(sample: &[f32], label: u32) -> ContentHash {
    let mut h = Sha256::new();
    h.update(CONTENT_HASH_TAG);
    h.update((sample.len() as u64).to_le_bytes());
    for v in sample {
        h.update(v.to_bits().to_le_bytes());
    }
    h.update(label.to_le_bytes());
    ContentHash(h.finalize().into())
}

/// The sample at the fixed datanet precision: `round(v · 2^NEAR_DUPLICATE_BITS)` per value,
/// rounding half away from zero, saturating at the `i32` range. Two samples with equal
/// quantizations are near duplicates, whatever their labels.
pub fn quantize(sample: &[f32]) -> Vec<i32> {
    let scale = f64::from(1u32 << NEAR_DUPLICATE_BITS);
    // `as` saturates out-of-range floats, which is the documented behaviour.
    sample
        .iter()
        .map(|&v| (f64::from(v) * scale).round() as i32)
        .collect()
}

/// Domain tag of [`leaves_digest`].
pub const LEAVES_DIGEST_TAG: &[u8] = b"openpoa-datanet-leaves-v1";

/// SHA-256 over a version's leaves in order (`LEAVES_DIGEST_TAG`, u64 LE count, then per leaf the
/// 20 address bytes, u32 LE label and 32 content-hash bytes). Stored with a seal so an edit of a
/// sealed version's entries is detected when the datanet is loaded.
pub fn leaves_digest(leaves: &[Leaf]) -> ContentHash {
    let mut h = Sha256::new();
    h.update(LEAVES_DIGEST_TAG);
    h.update((leaves.len() as u64).to_le_bytes());
    for l in leaves {
        h.update(l.contributor.0);
        h.update(l.label.to_le_bytes());
        h.update(l.content_hash.0);
    }
    ContentHash(h.finalize().into())
}
