//! The datanet record — metadata, versions, contributions — and the only rules for changing
//! it: [`Datanet::add`], [`Datanet::add_all`] and [`Datanet::seal`]. Stores load a record, apply
//! one of these, and persist the result only if it succeeded.

use serde::{Deserialize, Serialize};

use super::error::{DatanetError, Result};
use super::fingerprint::{content_hash, leaves_digest, quantize};
use super::types::{Address, ContentHash, DatanetId, EntryRef, Leaf, Root};
use super::validate::{check_sample, DuplicateIndex};

/// What `create` needs to make a datanet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatanetSpec {
    /// Display name (the store derives the id from it).
    pub name: String,
    /// Who curates it.
    pub curator: Address,
    /// Shape of one sample (the model input without the batch dimension), e.g. `[64]`.
    pub input_shape: Vec<usize>,
    /// Number of classes; labels are `0..classes`.
    pub classes: u32,
}

impl DatanetSpec {
    /// Checks the name is not blank, the shape has no zero dimension, and there is a class.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(DatanetError::InvalidSpec("the name is empty".into()));
        }
        if self.input_shape.is_empty() || self.input_shape.contains(&0) {
            return Err(DatanetError::InvalidSpec(format!(
                "input shape {:?} holds no values; give a positive input length",
                self.input_shape
            )));
        }
        if self.classes == 0 {
            return Err(DatanetError::InvalidSpec(
                "0 classes; a datanet needs at least one class".into(),
            ));
        }
        Ok(())
    }
}

/// A contribution as submitted (before it has a hash and a time).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewContribution {
    /// Who contributes it.
    pub contributor: Address,
    /// The sample, `input_len` values.
    pub sample: Vec<f32>,
    /// Its class.
    pub label: u32,
}

/// A contribution as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// Who contributed it.
    pub contributor: Address,
    /// The sample.
    pub sample: Vec<f32>,
    /// Its class.
    pub label: u32,
    /// [`super::content_hash`] of sample and label.
    pub content_hash: ContentHash,
    /// When it was added (unix seconds, system clock); not part of the content hash.
    pub time: u64,
}

impl Contribution {
    /// What the version's Merkle tree commits to for this contribution.
    pub fn leaf(&self) -> Leaf {
        Leaf {
            contributor: self.contributor,
            label: self.label,
            content_hash: self.content_hash,
        }
    }
}

/// What sealing stored: the caller's root and a digest of the leaves it was computed over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// The Merkle root given by the caller.
    pub root: Root,
    /// Number of contributions sealed.
    pub entries: usize,
    /// [`super::leaves_digest`] of the sealed leaves; a later edit of them is detected on load.
    pub leaves_digest: ContentHash,
    /// When it was sealed (unix seconds).
    pub sealed_at: u64,
}

/// One version of a datanet: open (accepting contributions) or sealed (frozen, with a root).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// Version number, from 1.
    pub number: u32,
    /// The seal, once sealed.
    pub seal: Option<Seal>,
    /// Contributions in order of addition.
    pub contributions: Vec<Contribution>,
}

impl Version {
    /// Whether the version is frozen.
    pub fn is_sealed(&self) -> bool {
        self.seal.is_some()
    }

    /// The leaves of every contribution, in order (what the caller builds the root from).
    pub fn leaves(&self) -> Vec<Leaf> {
        self.contributions.iter().map(Contribution::leaf).collect()
    }
}

/// The result of sealing: which version was frozen, its seal, and the version now open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedVersion {
    /// The datanet.
    pub datanet: DatanetId,
    /// The version just sealed.
    pub version: u32,
    /// What was stored.
    pub seal: Seal,
    /// The newly opened version.
    pub open: u32,
}

/// A datanet: metadata and every version, the last one open.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Datanet {
    /// Id in its store.
    pub id: DatanetId,
    /// Display name.
    pub name: String,
    /// Curator.
    pub curator: Address,
    /// Shape of one sample.
    pub input_shape: Vec<usize>,
    /// Number of classes.
    pub classes: u32,
    /// When it was created (unix seconds).
    pub created_at: u64,
    /// Versions 1..=n in order; all but the last are sealed, the last is open.
    pub versions: Vec<Version>,
}

impl Datanet {
    /// A new datanet with version 1 open and empty.
    pub fn new(id: DatanetId, spec: DatanetSpec, now: u64) -> Result<Self> {
        spec.validate()?;
        Ok(Self {
            id,
            name: spec.name,
            curator: spec.curator,
            input_shape: spec.input_shape,
            classes: spec.classes,
            created_at: now,
            versions: vec![Version {
                number: 1,
                seal: None,
                contributions: Vec::new(),
            }],
        })
    }

    /// Values per sample (the product of the input shape).
    pub fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// Number of the open version (the last one).
    pub fn open_version(&self) -> u32 {
        self.versions.last().map_or(1, |v| v.number)
    }

    /// Version `number`, or [`DatanetError::UnknownVersion`].
    pub fn version(&self, number: u32) -> Result<&Version> {
        number
            .checked_sub(1)
            .and_then(|i| self.versions.get(i as usize))
            .ok_or_else(|| DatanetError::UnknownVersion {
                datanet: self.id.to_string(),
                version: number,
                latest: self.open_version(),
            })
    }

    /// The open version, after checking that `target` (when given) names it: a sealed target is
    /// [`DatanetError::VersionSealed`], a missing one [`DatanetError::UnknownVersion`].
    fn open_target(&mut self, target: Option<u32>) -> Result<&mut Version> {
        let open = self.open_version();
        let number = target.unwrap_or(open);
        let v = self.version(number)?;
        if let Some(seal) = &v.seal {
            return Err(DatanetError::VersionSealed {
                datanet: self.id.to_string(),
                version: number,
                root: seal.root.to_string(),
                open,
            });
        }
        let unknown = DatanetError::UnknownVersion {
            datanet: self.id.to_string(),
            version: number,
            latest: open,
        };
        // `version` found it, so the index is in range.
        self.versions.get_mut(number as usize - 1).ok_or(unknown)
    }

    /// Validates one contribution and appends it to the open version (or to `target`, which
    /// must then be the open version). Nothing changes when it is rejected.
    pub fn add(
        &mut self,
        target: Option<u32>,
        contribution: NewContribution,
        now: u64,
    ) -> Result<EntryRef> {
        self.open_target(target)?;
        let mut index = DuplicateIndex::of(self);
        self.add_one(&mut index, contribution, now)
    }

    /// Validates and appends many contributions, each checked against everything before it
    /// (earlier versions, the open version, and earlier accepted entries of this batch).
    /// Returns one result per contribution, in order; the outer error (sealed or unknown
    /// `target`) rejects the whole batch.
    pub fn add_all(
        &mut self,
        target: Option<u32>,
        contributions: Vec<NewContribution>,
        now: u64,
    ) -> Result<Vec<Result<EntryRef>>> {
        self.open_target(target)?;
        let mut index = DuplicateIndex::of(self);
        let mut results = Vec::with_capacity(contributions.len());
        for c in contributions {
            results.push(self.add_one(&mut index, c, now));
        }
        Ok(results)
    }

    fn add_one(
        &mut self,
        index: &mut DuplicateIndex,
        c: NewContribution,
        now: u64,
    ) -> Result<EntryRef> {
        check_sample(self, &c.sample, c.label)?;
        let hash = content_hash(&c.sample, c.label);
        let quantized = quantize(&c.sample);
        index.check(&hash, &quantized)?;
        let v = self.open_target(None)?;
        let at = EntryRef {
            version: v.number,
            index: v.contributions.len(),
            contributor: c.contributor,
        };
        v.contributions.push(Contribution {
            contributor: c.contributor,
            sample: c.sample,
            label: c.label,
            content_hash: hash,
            time: now,
        });
        index.insert(hash, quantized, at);
        Ok(at)
    }

    /// Freezes the open version under `root` (computed by the caller over
    /// [`Version::leaves`]) and opens the next, empty version. An empty version cannot be sealed.
    pub fn seal(&mut self, root: Root, now: u64) -> Result<SealedVersion> {
        let id = self.id.clone();
        let v = self.open_target(None)?;
        if v.contributions.is_empty() {
            return Err(DatanetError::EmptyVersion {
                datanet: id.to_string(),
                version: v.number,
            });
        }
        let seal = Seal {
            root,
            entries: v.contributions.len(),
            leaves_digest: leaves_digest(&v.leaves()),
            sealed_at: now,
        };
        v.seal = Some(seal.clone());
        let version = v.number;
        self.versions.push(Version {
            number: version + 1,
            seal: None,
            contributions: Vec::new(),
        });
        Ok(SealedVersion {
            datanet: id,
            version,
            seal,
            open: version + 1,
        })
    }

    /// Checks what the rules above guarantee, for a record read back from storage: versions
    /// numbered 1..=n, only the last open, every content hash and seal digest matching, every
    /// sample valid. Returns what does not add up.
    pub fn check_consistency(&self) -> std::result::Result<(), String> {
        if self.versions.is_empty() {
            return Err("no versions".into());
        }
        let last = self.versions.len() - 1;
        for (i, v) in self.versions.iter().enumerate() {
            if v.number as usize != i + 1 {
                return Err(format!("version #{i} is numbered {}", v.number));
            }
            if (i == last) == v.is_sealed() {
                return Err(format!(
                    "version {} is {} but only the last version may be open",
                    v.number,
                    if v.is_sealed() { "sealed" } else { "open" }
                ));
            }
            for (j, c) in v.contributions.iter().enumerate() {
                check_sample(self, &c.sample, c.label)
                    .map_err(|e| format!("version {} entry #{j}: {e}", v.number))?;
                if content_hash(&c.sample, c.label) != c.content_hash {
                    return Err(format!(
                        "version {} entry #{j}: content hash does not match its sample and label",
                        v.number
                    ));
                }
            }
            if let Some(seal) = &v.seal {
                if seal.entries != v.contributions.len()
                    || seal.leaves_digest != leaves_digest(&v.leaves())
                {
                    return Err(format!(
                        "sealed version {} no longer holds the entries it was sealed with",
                        v.number
                    ));
                }
            }
        }
        Ok(())
    }
}
