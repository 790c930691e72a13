//! What a proof makes public about each part of the statement, chosen when a model is compiled.

use std::fmt;
use std::str::FromStr;

/// `Display` and `FromStr` through `as_str` and `ALL`: the names settings files and the command
/// line use.
macro_rules! named {
    ($t:ty, $what:literal, $expected:literal) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $t {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| {
                        format!(
                            concat!("unknown ", $what, " `{}` (expected ", $expected, ")"),
                            s
                        )
                    })
            }
        }
    };
}

pub(crate) use named;

/// How the model's input appears in the public instances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum InputVisibility {
    /// Every quantized input value is a public instance.
    #[default]
    Public,
    /// Private; its Poseidon commitment ([`crate::commit::input_commitment`]) is public, so a
    /// verifier can check the proof is about an input it was shown out of band.
    Hashed,
    /// Private, nothing about it is public (beyond it being a valid, in-range input).
    Private,
}

impl InputVisibility {
    /// Every visibility, in the order the CLI lists them.
    pub const ALL: [Self; 3] = [Self::Public, Self::Hashed, Self::Private];

    /// Its name in settings files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Hashed => "hashed",
            Self::Private => "private",
        }
    }
}

named!(
    InputVisibility,
    "input visibility",
    "public, hashed or private"
);

/// How the model's weights (Gemm and Conv weights and biases) appear in a proof.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WeightVisibility {
    /// Fixed columns: the verifying key commits to the weights (one key per set of weights).
    #[default]
    Fixed,
    /// Private witness; their Poseidon commitment ([`crate::commit::weights_commitment`]) is a
    /// public instance, so one verifying key serves every model of the same shape — a base
    /// model and each of its LoRA adapters.
    Hashed,
}

impl WeightVisibility {
    /// Every visibility, in the order the CLI lists them.
    pub const ALL: [Self; 2] = [Self::Fixed, Self::Hashed];

    /// Its name in settings files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::Hashed => "hashed",
        }
    }
}

named!(WeightVisibility, "weight visibility", "fixed or hashed");

/// Visibility of every part of a model's proof. The output is always public.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Visibility {
    /// The input.
    pub input: InputVisibility,
    /// The weights.
    pub weights: WeightVisibility,
}

/// How an attribution index appears in a proof.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IndexVisibility {
    /// Every entry is a fixed column: the verifying key commits to this index (one key per
    /// index version); its root is a pinned public constant. Cheapest.
    #[default]
    Fixed,
    /// Entries are private witness; the circuit hashes them (Poseidon Merkle tree over packed
    /// leaves) and publishes the root, so one verifying key serves every index of the same shape
    /// (entries, dimension, bound) — every sealed version of a datanet of that size.
    Hashed,
}

impl IndexVisibility {
    /// Every visibility, in the order the CLI lists them.
    pub const ALL: [Self; 2] = [Self::Fixed, Self::Hashed];

    /// Its name in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::Hashed => "hashed",
        }
    }
}

named!(IndexVisibility, "index visibility", "fixed or hashed");
