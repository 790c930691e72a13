//! Commitments: model inputs (the same packing and Poseidon hash natively and in the circuit) and
//! datanet version roots.
//!
//! Input values are packed several to a field element so the hash stays cheap: value `x` with
//! static bound `B` becomes the slot `x + B ∈ [0, 2B]`, `slot_bits = bits(2B)` rounded up to whole
//! 8-bit range-check limbs (so a slot costs one lookup row), and
//! element `e` holds slots `e·P .. (e+1)·P` as `Σ slot_i · 2^(slot_bits·i)` with
//! `P = min(LANES, 252 / slot_bits)` — one Gemm row per element, always under the field size.
//! The circuit range-checks every slot to `slot_bits` bits, so the packing is injective and the
//! commitment binds the exact input.

use halo2curves::bn256::Fr;
use halo2curves::ff::{Field, PrimeField};
use poa_runtime::datanet::{Leaf, Root};
use poa_runtime::quant::bits_for;
use poa_runtime::QModel;

use crate::chips::range_check::LIMB_BITS;
use crate::chips::LANES;
use crate::field::fe;
use crate::poseidon::{hash, merkle_root};

/// Field bits a packed element may use (BN254's `Fr` has 254).
const PACK_BITS: u32 = 252;

/// How a tensor of values bounded by `bound` is packed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packing {
    /// Added to every value to make it a non-negative slot.
    pub offset: i64,
    /// Bits of one slot.
    pub slot_bits: u32,
    /// Slots per field element.
    pub per_element: usize,
}

impl Packing {
    /// The packing of values with `|x| ≤ bound`.
    pub fn for_bound(bound: i64) -> Self {
        // Whole range-check limbs: a slot then costs one lookup row, with no top-limb row.
        let slot_bits = bits_for(2 * i128::from(bound)).max(1).div_ceil(LIMB_BITS) * LIMB_BITS;
        Self {
            offset: bound,
            slot_bits,
            per_element: (PACK_BITS / slot_bits).clamp(1, LANES as u32) as usize,
        }
    }

    /// `2^(slot_bits·i)`: the weight of slot `i` in its element.
    pub fn slot_weight(&self, i: usize) -> Fr {
        Fr::from(2u64).pow_vartime([u64::from(self.slot_bits) * i as u64])
    }

    /// The constant part of an element holding `n` slots: `offset · Σ_{i<n} 2^(slot_bits·i)`.
    pub fn element_offset(&self, n: usize) -> Fr {
        (0..n).fold(Fr::zero(), |acc, i| acc + self.slot_weight(i)) * fe(self.offset)
    }

    /// Packs `values` (each within the bound) into field elements.
    pub fn pack(&self, values: &[i64]) -> Vec<Fr> {
        values
            .chunks(self.per_element)
            .map(|chunk| {
                chunk
                    .iter()
                    .enumerate()
                    .fold(self.element_offset(chunk.len()), |acc, (i, &x)| {
                        acc + fe(x) * self.slot_weight(i)
                    })
            })
            .collect()
    }
}

/// The packing of `model`'s quantized input.
pub fn input_packing(model: &QModel) -> Packing {
    Packing::for_bound(model.input().bound)
}

/// Poseidon commitment to a quantized input of `model` (public instance of `hashed` inputs).
pub fn input_commitment(model: &QModel, input: &[i64]) -> Fr {
    hash(&input_packing(model).pack(input))
}

/// The Poseidon Merkle root of a version's leaves, as sealed: each leaf is
/// `hash([contributor, label, content_hash_hi128, content_hash_lo128])` (the address
/// and the hash halves read as big-endian integers), the root is [`merkle_root`] over
/// them, stored as the field element's canonical 32-byte big-endian form.
pub fn datanet_root(leaves: &[Leaf]) -> Root {
    let leaves: Vec<Fr> = leaves
        .iter()
        .map(|l| {
            let (hi, lo) = l.content_hash.0.split_at(16);
            hash(&[
                fr_be(&l.contributor.0),
                Fr::from(u64::from(l.label)),
                fr_be(hi),
                fr_be(lo),
            ])
        })
        .collect();
    let mut bytes = merkle_root(&leaves).to_repr();
    bytes.as_mut().reverse();
    let mut be = [0u8; 32];
    be.copy_from_slice(bytes.as_ref());
    Root(be)
}

/// A big-endian byte string (at most 31 bytes, so below the modulus) as a field element.
pub(crate) fn fr_be(bytes: &[u8]) -> Fr {
    debug_assert!(bytes.len() < 32);
    bytes.iter().fold(Fr::zero(), |acc, &b| {
        acc * Fr::from(256) + Fr::from(u64::from(b))
    })
}

/// The Poseidon Merkle root committing to an attribution index (public instance of `hashed`
/// indexes). Leaf `i` encodes entry `i` as
///
/// ```text
/// hash([contributor, label, e_0, e_1, …, e_{m-1}])
/// ```
///
/// where `contributor` is the 20-byte address read as a big-endian integer, `label` the label,
/// and `e_j` the entry's embedding packed with [`Packing::for_bound`]`(index.embedding_bound)`
/// (each value `v` becomes the slot `v + bound`, `per_element` slots per element, so
/// `m = ⌈d / per_element⌉`). The root is [`merkle_root`] over the leaves in index order (the
/// leaf count is hashed in). Model, datanet and version are not in the leaves: the index root
/// is bound to them by the statement that publishes it next to the model commitment.
pub fn index_root(index: &poa_runtime::attribution::AttributionIndex) -> Fr {
    let packing = Packing::for_bound(index.embedding_bound);
    let leaves: Vec<Fr> = index
        .entries
        .iter()
        .map(|e| {
            let mut message = vec![fr_be(&e.contributor.0), Fr::from(u64::from(e.label))];
            message.extend(packing.pack(&e.embedding));
            hash(&message)
        })
        .collect();
    merkle_root(&leaves)
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2curves::ff::PrimeField;
    use poa_runtime::datanet::{content_hash, Address};

    #[test]
    fn packing_is_positional_and_offset() {
        let p = Packing::for_bound(16); // [0, 32] needs 6 bits; whole limbs make it 8
        assert_eq!(p.slot_bits, 8);
        assert_eq!(p.per_element, LANES);
        let packed = p.pack(&[-16, 0, 16]);
        assert_eq!(packed, vec![fe(16 * 256 + 32 * 65536)]);
        assert_ne!(p.pack(&[1, 0]), p.pack(&[0, 1]));
    }

    #[test]
    fn wide_slots_use_fewer_lanes() {
        let p = Packing::for_bound(1 << 40);
        assert_eq!(p.slot_bits, 48);
        assert_eq!(p.per_element, 5);
        assert_eq!(p.pack(&[0; 13]).len(), 3);
    }

    /// The leaf encoding, spelled out with `from_u128`, and the root in big-endian bytes
    /// (halo2curves prints field elements as big-endian hex).
    #[test]
    fn root_is_the_big_endian_poseidon_merkle_root_of_the_leaves() {
        let leaf = Leaf {
            contributor: Address([0xab; 20]),
            label: 7,
            content_hash: content_hash(&[0.5, 1.0], 7),
        };
        let h = leaf.content_hash.0;
        let be128 = |b: &[u8]| u128::from_be_bytes(b.try_into().expect("16 bytes"));
        let address = Fr::from_u128(0xabab_abab) * Fr::from_u128(1 << 64) * Fr::from_u128(1 << 64)
            + Fr::from_u128(be128(&[0xab; 16]));
        let expected = merkle_root(&[hash(&[
            address,
            Fr::from(7),
            Fr::from_u128(be128(&h[..16])),
            Fr::from_u128(be128(&h[16..])),
        ])]);
        let root = datanet_root(&[leaf]);
        assert_eq!(root.to_string(), format!("{expected:?}"));
        assert_ne!(datanet_root(&[leaf, leaf]), root);
    }
    fn index_with(entries: Vec<(u8, u32, Vec<i64>)>) -> poa_runtime::attribution::AttributionIndex {
        use poa_runtime::attribution::{AttributionIndex, IndexEntry, INDEX_FORMAT};
        AttributionIndex {
            format_version: INDEX_FORMAT,
            model_digest: "m".into(),
            model_name: "m".into(),
            datanet: "d".into(),
            version: 1,
            datanet_root: Root([0; 32]).to_string(),
            embedding_tensor: 3,
            embedding_bound: 16,
            entries: entries
                .into_iter()
                .map(|(a, label, embedding)| IndexEntry {
                    contributor: Address([a; 20]),
                    label,
                    embedding,
                })
                .collect(),
        }
    }

    /// The leaf encoding spelled out: contributor, label, then the packed embedding.
    #[test]
    fn index_root_hashes_contributor_label_and_packed_embedding() {
        let emb: Vec<i64> = (0..20).map(|i| i - 10).collect();
        let index = index_with(vec![(0x01, 3, emb.clone()), (0x02, 5, vec![16; 20])]);
        let p = Packing::for_bound(16);
        assert_eq!(
            p.pack(&emb).len(),
            2,
            "20 slots of 6 bits: two elements of 16 lanes"
        );
        let leaf = |a: u8, label: u64, e: &[i64]| {
            let mut m = vec![fr_be(&[a; 20]), Fr::from(label)];
            m.extend(p.pack(e));
            hash(&m)
        };
        let expected = merkle_root(&[leaf(1, 3, &emb), leaf(2, 5, &[16; 20])]);
        assert_eq!(index_root(&index), expected);
        // Every field of an entry is bound.
        let mut changed = index.clone();
        changed.entries[0].embedding[19] += 1;
        assert_ne!(index_root(&changed), expected);
        let mut changed = index.clone();
        changed.entries[1].label = 4;
        assert_ne!(index_root(&changed), expected);
        let mut changed = index.clone();
        changed.entries[1].contributor = Address([3; 20]);
        assert_ne!(index_root(&changed), expected);
        let mut changed = index;
        changed.entries.swap(0, 1);
        assert_ne!(index_root(&changed), expected);
    }
}
