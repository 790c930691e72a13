//! The reward preview: conservation, proportionality, share validation, zero scores and merging.

use poa_runtime::attribution::{split, RewardError, RewardShares};
use poa_runtime::datanet::Address;
use proptest::prelude::*;

fn addr(b: u8) -> Address {
    Address([b; 20])
}

const ONE_OPEN: u128 = 1_000_000_000_000_000_000;

#[test]
fn default_shares_sum_to_100_percent() {
    let s = RewardShares::default();
    assert!(s.validate().is_ok());
    assert_eq!(s.to_string(), "3000,5000,1500,500");
    assert_eq!("3000,5000,1500,500".parse::<RewardShares>(), Ok(s));
}

#[test]
fn bad_shares_are_rejected() {
    assert!(matches!(
        RewardShares::new(3000, 5000, 1500, 400),
        Err(RewardError::BadShares { sum: 9900, .. })
    ));
    assert!(matches!(
        "3000,5000,1500,600".parse::<RewardShares>(),
        Err(RewardError::BadShares { sum: 10_100, .. })
    ));
    for bad in [
        "",
        "1,2,3",
        "a,b,c,d",
        "2500,2500,2500,2500,0",
        "-1,5001,5000,0",
    ] {
        assert!(
            matches!(bad.parse::<RewardShares>(), Err(RewardError::Parse(_))),
            "{bad}"
        );
    }
    // A split with unchecked bad shares is refused too, with a message naming the sum.
    let shares = RewardShares {
        owner_bps: 10_000,
        contributors_bps: 1,
        prover_bps: 0,
        treasury_bps: 0,
    };
    let e = split(ONE_OPEN, &shares, &[(addr(1), 5)]).expect_err("bad shares");
    assert!(e.to_string().contains("10001"), "{e}");
}

#[test]
fn default_split_of_one_open_is_proportional() {
    let top = [(addr(1), 3), (addr(2), 1)];
    let r = split(ONE_OPEN, &RewardShares::default(), &top).expect("split");
    assert_eq!(r.owner, 300_000_000_000_000_000);
    assert_eq!(r.prover, 150_000_000_000_000_000);
    assert_eq!(r.treasury, 50_000_000_000_000_000);
    assert_eq!(r.dust, 0);
    assert_eq!(r.contributors.len(), 2);
    assert_eq!(r.contributors[0].amount, 375_000_000_000_000_000);
    assert_eq!(r.contributors[1].amount, 125_000_000_000_000_000);
    assert_eq!(r.total(), ONE_OPEN);
}

#[test]
fn rounding_dust_goes_to_the_treasury() {
    // 100 units, contributors' pool 50, scores 1:1:1 → 16 each, 2 units of dust.
    let top = [(addr(1), 1), (addr(2), 1), (addr(3), 1)];
    let r = split(100, &RewardShares::default(), &top).expect("split");
    assert_eq!((r.owner, r.prover), (30, 15));
    assert!(r.contributors.iter().all(|c| c.amount == 16));
    assert_eq!(r.dust, 2);
    assert_eq!(r.treasury, 5 + 2);
    assert_eq!(r.total(), 100);
    // bps rounding: 7 units → owner 2, pool 3, prover 1, treasury 0 + 1 dust.
    let r = split(7, &RewardShares::default(), &[(addr(1), 9)]).expect("split");
    assert_eq!((r.owner, r.prover, r.contributors[0].amount), (2, 1, 3));
    assert_eq!((r.dust, r.treasury), (1, 1));
    assert_eq!(r.total(), 7);
}

#[test]
fn zero_scores_send_the_pool_to_the_treasury() {
    let top = [(addr(1), 0), (addr(2), 0)];
    let r = split(ONE_OPEN, &RewardShares::default(), &top).expect("split");
    assert_eq!(r.contributors.len(), 2);
    assert!(r.contributors.iter().all(|c| c.amount == 0));
    assert_eq!(r.treasury, 550_000_000_000_000_000);
    assert_eq!(r.dust, 0);
    assert_eq!(r.total(), ONE_OPEN);
    // No top-k at all behaves the same.
    let r = split(ONE_OPEN, &RewardShares::default(), &[]).expect("split");
    assert!(r.contributors.is_empty());
    assert_eq!(r.treasury, 550_000_000_000_000_000);
}

#[test]
fn entries_of_one_contributor_are_merged() {
    let top = [(addr(2), 5), (addr(1), 2), (addr(2), 3), (addr(1), 0)];
    let r = split(
        1_000,
        &RewardShares::new(0, 10_000, 0, 0).expect("shares"),
        &top,
    )
    .expect("split");
    let lines: Vec<_> = r
        .contributors
        .iter()
        .map(|c| (c.contributor, c.score, c.amount))
        .collect();
    assert_eq!(lines, vec![(addr(2), 8, 800), (addr(1), 2, 200)]);
    assert_eq!(r.total(), 1_000);
}

#[test]
fn negative_scores_are_refused() {
    let e = split(10, &RewardShares::default(), &[(addr(1), -1)]).expect_err("negative");
    assert!(matches!(e, RewardError::NegativeScore { score: -1, .. }));
}

#[test]
fn json_amounts_are_decimal_strings() {
    let r = split(u128::MAX, &RewardShares::default(), &[(addr(1), 1)]).expect("split");
    let v = serde_json::to_value(&r).expect("json");
    assert_eq!(v["fee"], serde_json::json!(u128::MAX.to_string()));
    let back: poa_runtime::attribution::RewardSplit =
        serde_json::from_value(v).expect("round trip");
    assert_eq!(back, r);
}

fn shares() -> impl Strategy<Value = RewardShares> {
    (0u32..=10_000, 0u32..=10_000, 0u32..=10_000).prop_map(|(a, b, c)| {
        let mut cuts = [a, b, c];
        cuts.sort_unstable();
        RewardShares {
            owner_bps: cuts[0],
            contributors_bps: cuts[1] - cuts[0],
            prover_bps: cuts[2] - cuts[1],
            treasury_bps: 10_000 - cuts[2],
        }
    })
}

proptest! {
    #[test]
    fn the_fee_is_conserved_exactly(
        fee in prop_oneof![0u128..1_000_000, any::<u128>()],
        shares in shares(),
        top in prop::collection::vec((0u8..6, prop_oneof![0i128..1_000, 0i128..(i128::MAX / 64)]), 0..12),
    ) {
        let top: Vec<_> = top.into_iter().map(|(a, s)| (addr(a), s)).collect();
        let r = split(fee, &shares, &top).expect("split");
        prop_assert_eq!(r.total(), fee);
        prop_assert!(r.dust <= r.treasury);
        // Each contributor gets floor(pool · s / S) (checked where the products fit in u128),
        // and never less than a contributor with a lower score.
        let total: i128 = r.contributors.iter().map(|c| c.score).sum();
        if total > 0 {
            let pool = fee / 10_000 * u128::from(shares.contributors_bps)
                + fee % 10_000 * u128::from(shares.contributors_bps) / 10_000;
            let total = total as u128;
            for c in &r.contributors {
                if let Some(exact) = pool.checked_mul(c.score as u128) {
                    prop_assert_eq!(c.amount, exact / total);
                }
            }
        }
        for a in &r.contributors {
            for b in &r.contributors {
                if a.score >= b.score {
                    prop_assert!(a.amount >= b.amount);
                }
            }
        }
        // Dust is at most 3 units from the bps rounding plus one per contributor line.
        prop_assert!(r.dust <= 3 + r.contributors.len() as u128);
    }
}
