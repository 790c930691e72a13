//! Reward preview: how a reward contract would split one inference fee between the model owner,
//! the attributed contributors, the prover and the treasury.
//!
//! The rule, in integer token units (the smallest unit of an 18-decimal token, like wei):
//!
//! 1. Each party's base is `floor(fee · bps / 10_000)` for its share in basis points
//!    ([`RewardShares`], the four shares summing to exactly 10_000).
//! 2. The contributors' base (the *pool*) is divided in proportion to score: the top-k entries
//!    (the public instances of an attribution proof) are summed per contributor, and a
//!    contributor with summed score `s` receives `floor(pool · s / S)`, `S` the sum of all
//!    top-k scores. One payout line per contributor, in order of first appearance in the top-k.
//! 3. Every rounding remainder (of step 1 and of step 2, the *dust*) goes to the treasury, so
//!    `owner + prover + treasury + Σ contributors == fee` exactly.
//! 4. When every score is zero (`S == 0`), nobody can be paid in proportion: the whole pool goes
//!    to the treasury (it is not counted as dust) and every contributor line is 0.
//!
//! Negative scores are refused (score v1 is never negative). All arithmetic is exact, with
//! 256-bit intermediates where a product could exceed `u128`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::datanet::Address;

/// Basis points in a whole (100 %).
pub const BPS: u32 = 10_000;

/// Everything that can make a reward split impossible.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RewardError {
    /// The four shares do not sum to [`BPS`].
    #[error("reward shares must sum to 10000 basis points (100%), but owner {owner} + contributors {contributors} + prover {prover} + treasury {treasury} = {sum}")]
    BadShares {
        /// Owner share (bps).
        owner: u32,
        /// Contributors share (bps).
        contributors: u32,
        /// Prover share (bps).
        prover: u32,
        /// Treasury share (bps).
        treasury: u32,
        /// Their sum.
        sum: u64,
    },
    /// A share list that is not four comma-separated integers.
    #[error("reward shares `{0}`: expected four comma-separated basis points owner,contributors,prover,treasury (e.g. 3000,5000,1500,500)")]
    Parse(String),
    /// A negative score among the top-k.
    #[error("contributor {contributor} has negative score {score}; scores must be ≥ 0")]
    NegativeScore {
        /// The contributor.
        contributor: Address,
        /// The score.
        score: i128,
    },
    /// The scores' sum does not fit in 128 bits.
    #[error("sum of scores overflows 128 bits")]
    Overflow,
}

/// Shares of a fee in basis points (1/100 of a percent); they must sum to [`BPS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardShares {
    /// Model owner's share.
    pub owner_bps: u32,
    /// All contributors' share, divided in proportion to score.
    pub contributors_bps: u32,
    /// Prover's share.
    pub prover_bps: u32,
    /// Treasury's share (it also receives the rounding dust).
    pub treasury_bps: u32,
}

impl Default for RewardShares {
    /// Owner 30 %, contributors 50 %, prover 15 %, treasury 5 %.
    fn default() -> Self {
        Self {
            owner_bps: 3000,
            contributors_bps: 5000,
            prover_bps: 1500,
            treasury_bps: 500,
        }
    }
}

impl RewardShares {
    /// Checked constructor: the shares must sum to [`BPS`].
    pub fn new(
        owner_bps: u32,
        contributors_bps: u32,
        prover_bps: u32,
        treasury_bps: u32,
    ) -> Result<Self, RewardError> {
        let s = Self {
            owner_bps,
            contributors_bps,
            prover_bps,
            treasury_bps,
        };
        s.validate()?;
        Ok(s)
    }

    /// Ok when the four shares sum to exactly [`BPS`].
    pub fn validate(&self) -> Result<(), RewardError> {
        let sum = u64::from(self.owner_bps)
            + u64::from(self.contributors_bps)
            + u64::from(self.prover_bps)
            + u64::from(self.treasury_bps);
        if sum == u64::from(BPS) {
            Ok(())
        } else {
            Err(RewardError::BadShares {
                owner: self.owner_bps,
                contributors: self.contributors_bps,
                prover: self.prover_bps,
                treasury: self.treasury_bps,
                sum,
            })
        }
    }
}

impl fmt::Display for RewardShares {
    /// `owner,contributors,prover,treasury`, the form [`FromStr`] parses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{},{},{},{}",
            self.owner_bps, self.contributors_bps, self.prover_bps, self.treasury_bps
        )
    }
}

impl FromStr for RewardShares {
    type Err = RewardError;

    /// Parses `owner,contributors,prover,treasury` in basis points and validates the sum.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts = s
            .split(',')
            .map(|p| p.trim().replace('_', "").parse::<u32>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| RewardError::Parse(s.to_string()))?;
        match parts[..] {
            [o, c, p, t] => Self::new(o, c, p, t),
            _ => Err(RewardError::Parse(s.to_string())),
        }
    }
}

/// One contributor's payout line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributorPayout {
    /// The contributor.
    pub contributor: Address,
    /// Sum of their top-k scores.
    pub score: i128,
    /// What they receive, in token units.
    #[serde(with = "amount")]
    pub amount: u128,
}

/// The split of one fee. Amounts are token units, serialized as decimal strings (JSON numbers
/// lose precision above 2^53).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardSplit {
    /// The fee split.
    #[serde(with = "amount")]
    pub fee: u128,
    /// The shares it was split by.
    pub shares: RewardShares,
    /// Model owner's amount.
    #[serde(with = "amount")]
    pub owner: u128,
    /// Prover's amount.
    #[serde(with = "amount")]
    pub prover: u128,
    /// Treasury's amount: its share, plus [`dust`](Self::dust), plus the whole contributors'
    /// pool when every score is zero.
    #[serde(with = "amount")]
    pub treasury: u128,
    /// One line per contributor, in order of first appearance in the top-k.
    pub contributors: Vec<ContributorPayout>,
    /// Rounding remainder paid to the treasury (already included in `treasury`).
    #[serde(with = "amount")]
    pub dust: u128,
}

impl RewardSplit {
    /// Sum of all contributors' amounts.
    pub fn contributors_total(&self) -> u128 {
        self.contributors.iter().map(|c| c.amount).sum()
    }

    /// Sum of every amount paid; equal to [`fee`](Self::fee) for a split made by [`split`].
    pub fn total(&self) -> u128 {
        self.owner + self.prover + self.treasury + self.contributors_total()
    }
}

/// Splits `fee` by `shares` among the model owner, the prover, the treasury and the contributors
/// of the top-k entries `top` (`(contributor, score)`, several entries of one contributor are
/// summed), following the rule in the [module documentation](self).
pub fn split(
    fee: u128,
    shares: &RewardShares,
    top: &[(Address, i128)],
) -> Result<RewardSplit, RewardError> {
    shares.validate()?;
    let bps = u128::from(BPS);
    let part = |b: u32| mul_div(fee, u128::from(b), bps);
    let owner = part(shares.owner_bps);
    let pool = part(shares.contributors_bps);
    let prover = part(shares.prover_bps);
    let treasury_base = part(shares.treasury_bps);
    // Each base is ≤ fee · bps / 10_000, so their sum is ≤ fee.
    let mut dust = fee - owner - pool - prover - treasury_base;

    let mut merged: Vec<(Address, u128)> = Vec::new();
    for &(contributor, score) in top {
        let s =
            u128::try_from(score).map_err(|_| RewardError::NegativeScore { contributor, score })?;
        match merged.iter_mut().find(|(a, _)| *a == contributor) {
            Some((_, acc)) => *acc = acc.checked_add(s).ok_or(RewardError::Overflow)?,
            None => merged.push((contributor, s)),
        }
    }
    let total = merged
        .iter()
        .try_fold(0u128, |t, (_, s)| t.checked_add(*s))
        .ok_or(RewardError::Overflow)?;
    let contributors = merged
        .iter()
        .map(|&(contributor, s)| {
            Ok(ContributorPayout {
                contributor,
                score: i128::try_from(s).map_err(|_| RewardError::Overflow)?,
                amount: if total == 0 {
                    0
                } else {
                    mul_div(pool, s, total)
                },
            })
        })
        .collect::<Result<Vec<_>, RewardError>>()?;
    let paid: u128 = contributors.iter().map(|c| c.amount).sum();
    let unallocated = if total == 0 { pool } else { 0 };
    if total != 0 {
        dust += pool - paid;
    }
    Ok(RewardSplit {
        fee,
        shares: *shares,
        owner,
        prover,
        treasury: treasury_base + dust + unallocated,
        contributors,
        dust,
    })
}

/// `floor(a · b / d)` exactly, for `b ≤ d` (so the result is ≤ `a` and fits), `d > 0`.
fn mul_div(a: u128, b: u128, d: u128) -> u128 {
    let (hi, lo) = mul_wide(a, b);
    // Restoring binary long division of the 256-bit hi:lo by d; the quotient fits in 128 bits
    // because hi < d.
    let mut rem = hi;
    let mut q = 0u128;
    for i in (0..128).rev() {
        let carry = rem >> 127;
        rem = (rem << 1) | ((lo >> i) & 1);
        q <<= 1;
        if carry == 1 || rem >= d {
            rem = rem.wrapping_sub(d);
            q |= 1;
        }
    }
    q
}

/// The 256-bit product `a · b` as `(high, low)` halves.
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    const M: u128 = u64::MAX as u128;
    let (a1, a0) = (a >> 64, a & M);
    let (b1, b0) = (b >> 64, b & M);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 64) + (p01 & M) + (p10 & M);
    let lo = (p00 & M) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (hi, lo)
}

/// Token amounts as decimal strings in JSON.
mod amount {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector `AttributionRewards.t.sol::test_splitsFeeLikeTheRuntime` asserts on-chain
    /// (fee 10,007, default shares, contributor 0xA1 twice in the top-8): the contract and this
    /// function must pay the same amounts.
    #[test]
    fn matches_the_contract_test_vector() {
        let addr = |b: u8| {
            let mut a = [0u8; 20];
            a[19] = b;
            Address(a)
        };
        let (a, b, c, d) = (addr(0xA1), addr(0xB1), addr(0xC1), addr(0xD1));
        let top = [
            (a, 5),
            (b, 3),
            (a, 2),
            (c, 1),
            (d, 0),
            (d, 0),
            (d, 0),
            (d, 0),
        ];
        let w = split(10_007, &RewardShares::default(), &top).expect("valid");
        assert_eq!((w.owner, w.prover, w.treasury), (3002, 1501, 503));
        let paid: Vec<(Address, u128)> = w
            .contributors
            .iter()
            .map(|p| (p.contributor, p.amount))
            .collect();
        for (who, amount) in [(a, 3183), (b, 1364), (c, 454)] {
            assert!(paid.contains(&(who, amount)), "{who}: {paid:?}");
        }
        assert!(
            paid.iter().all(|&(who, amount)| who != d || amount == 0),
            "{paid:?}"
        );
    }

    #[test]
    fn mul_div_matches_small_products_and_handles_wide_ones() {
        for (a, b, d) in [(7u128, 3, 5), (0, 0, 1), (1_000, 999, 1_000), (13, 13, 13)] {
            assert_eq!(mul_div(a, b, d), a * b / d);
        }
        assert_eq!(mul_div(u128::MAX, u128::MAX, u128::MAX), u128::MAX);
        assert_eq!(mul_div(u128::MAX, 1, 2), u128::MAX / 2);
        assert_eq!(mul_div(u128::MAX, 5000, 10_000), u128::MAX / 2);
        assert_eq!(mul_div(u128::MAX, u128::MAX - 1, u128::MAX), u128::MAX - 1);
    }
}
