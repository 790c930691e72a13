//! Checks a contribution must pass before it is added: well-formed sample and label, and no
//! exact or near duplicate of any earlier contribution in any version of the datanet.

use std::collections::HashMap;

use super::error::{DatanetError, Result};
use super::fingerprint::{quantize, NEAR_DUPLICATE_BITS};
use super::record::Datanet;
use super::types::{ContentHash, EntryRef};

/// Checks the sample length, that every value is finite, and the label range, in that order.
pub fn check_sample(datanet: &Datanet, sample: &[f32], label: u32) -> Result<()> {
    let expected = datanet.input_len();
    if sample.len() != expected {
        return Err(DatanetError::SampleLength {
            datanet: datanet.id.to_string(),
            expected,
            got: sample.len(),
        });
    }
    if let Some((index, &value)) = sample.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(DatanetError::NonFiniteValue { index, value });
    }
    if label >= datanet.classes {
        return Err(DatanetError::LabelOutOfRange {
            datanet: datanet.id.to_string(),
            label,
            classes: datanet.classes,
        });
    }
    Ok(())
}

/// Every contribution of a datanet by content hash and by quantized sample, for duplicate
/// checks in O(1) each. The first contribution with a given fingerprint is the one reported.
#[derive(Debug, Default)]
pub struct DuplicateIndex {
    exact: HashMap<ContentHash, EntryRef>,
    near: HashMap<Vec<i32>, EntryRef>,
}

impl DuplicateIndex {
    /// Indexes every contribution of every version of `datanet`.
    pub fn of(datanet: &Datanet) -> Self {
        let mut index = Self::default();
        for v in &datanet.versions {
            for (i, c) in v.contributions.iter().enumerate() {
                let at = EntryRef {
                    version: v.number,
                    index: i,
                    contributor: c.contributor,
                };
                index.insert(c.content_hash, quantize(&c.sample), at);
            }
        }
        index
    }

    /// Rejects a contribution whose content hash (exact) or quantized sample (near) is known.
    pub fn check(&self, hash: &ContentHash, quantized: &[i32]) -> Result<()> {
        if let Some(&of) = self.exact.get(hash) {
            return Err(DatanetError::ExactDuplicate { of });
        }
        if let Some(&of) = self.near.get(quantized) {
            return Err(DatanetError::NearDuplicate {
                of,
                bits: NEAR_DUPLICATE_BITS,
            });
        }
        Ok(())
    }

    /// Records a contribution (keeps the earlier one if the fingerprint is already known).
    pub fn insert(&mut self, hash: ContentHash, quantized: Vec<i32>, at: EntryRef) {
        self.exact.entry(hash).or_insert(at);
        self.near.entry(quantized).or_insert(at);
    }
}
