//! Value types of datanets: addresses, ids, hashes, roots, and references to entries.
//!
//! Each is a small newtype that parses and prints one canonical text form (lowercase `0x`-hex
//! for byte strings) and serializes as that text, so stored files read like the CLI's output.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::DatanetError;

/// Parses `0x` + exactly `2·N` hex digits into `N` bytes; the error says what is wrong.
fn parse_hex<const N: usize>(value: &str) -> Result<[u8; N], String> {
    let digits = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
        .ok_or_else(|| "missing 0x prefix".to_string())?;
    if digits.len() != 2 * N {
        return Err(format!("{} hex digits instead of {}", digits.len(), 2 * N));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).map_err(|e| format!("not hex ({e})"))?;
    Ok(out)
}

/// An EVM account address (20 bytes), written `0x` + 40 hex digits.
///
/// Parsing accepts any letter case; the EIP-55 mixed-case checksum is not checked. It prints in
/// lowercase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Address(pub [u8; 20]);

impl FromStr for Address {
    type Err = DatanetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex::<20>(s)
            .map(Self)
            .map_err(|reason| DatanetError::InvalidAddress {
                value: s.to_string(),
                reason,
            })
    }
}

/// 32 bytes written `0x` + 64 hex digits; used by [`ContentHash`] and [`Root`].
macro_rules! bytes32 {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(pub [u8; 32]);

        impl FromStr for $name {
            type Err = DatanetError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex::<32>(s).map(Self).map_err(|detail| DatanetError::Malformed {
                    what: format!("{} `{s}`", $what),
                    detail,
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "0x{}", hex::encode(self.0))
            }
        }

        impl TryFrom<String> for $name {
            type Error = DatanetError;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.to_string()
            }
        }
    };
}

bytes32!(
    /// SHA-256 of a contribution's sample and label (see [`super::content_hash`]).
    ContentHash,
    "content hash"
);

bytes32!(
    /// The root committed to when a version is sealed: a Poseidon Merkle root over the version's
    /// [`Leaf`]s, as the canonical 32-byte big-endian form of a BN254 scalar. It is computed
    /// outside this crate (poa-circuits) and stored as given.
    Root,
    "root"
);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl TryFrom<String> for Address {
    type Error = DatanetError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Address> for String {
    fn from(a: Address) -> String {
        a.to_string()
    }
}

/// Longest accepted datanet id, in characters.
pub const MAX_ID_LEN: usize = 64;

/// A datanet's id in its store: a slug, lowercase `[a-z0-9]` words joined by single `-`
/// (at most [`MAX_ID_LEN`] characters), so it is safe as a file name and a URL segment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DatanetId(String);

impl DatanetId {
    /// The slug of a display name: lowercase ASCII letters and digits kept, every other run of
    /// characters turned into one `-`, trimmed to [`MAX_ID_LEN`]; `datanet` when nothing is left.
    pub fn slug_of(name: &str) -> Self {
        let mut slug = String::new();
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        slug.truncate(MAX_ID_LEN);
        let slug = slug.trim_end_matches('-');
        Self(if slug.is_empty() {
            "datanet".to_string()
        } else {
            slug.to_string()
        })
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for DatanetId {
    type Err = DatanetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len() <= MAX_ID_LEN
            && s.split('-').all(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(DatanetError::InvalidId(s.to_string()))
        }
    }
}

impl fmt::Display for DatanetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DatanetId {
    type Error = DatanetError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<DatanetId> for String {
    fn from(id: DatanetId) -> String {
        id.0
    }
}

/// Where a contribution sits: its version, its index within that version, and who made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRef {
    /// Version number (1-based).
    pub version: u32,
    /// Index within the version (0-based, in order of addition).
    pub index: usize,
    /// The contributor.
    pub contributor: Address,
}

impl fmt::Display for EntryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "version {} entry #{} by {}",
            self.version, self.index, self.contributor
        )
    }
}

/// What a version's Merkle tree commits to for one contribution: contributor, label and content
/// hash (the sample enters through its hash). The caller turns each into a field element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leaf {
    /// The contributor.
    pub contributor: Address,
    /// The label.
    pub label: u32,
    /// SHA-256 of sample and label.
    pub content_hash: ContentHash,
}
