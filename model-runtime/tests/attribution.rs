//! Proof of Attribution v1, natively: the score's rules, top-k ties, determinism, and the
//! attribution quality on the fixtures' datanet over the held-out test set.

mod common;

use std::collections::BTreeMap;

use common::{compile, fixtures, test_set};
use poa_runtime::attribution::{
    attribute, build_index, score, top_k, AttributionError, AttributionIndex, IndexEntry, DEFAULT_K,
};
use poa_runtime::datanet::{
    import, Address, DatanetFile, DatanetSpec, DatanetStore, FileStore, Root,
};
use poa_runtime::QModel;

fn entry(label: u32, embedding: Vec<i64>) -> IndexEntry {
    IndexEntry {
        contributor: Address([1; 20]),
        label,
        embedding,
    }
}

#[test]
fn score_is_zero_for_other_labels_and_negative_dots() {
    let q = [1, 2, 3];
    assert_eq!(score(&entry(4, vec![1, 1, 1]), 4, &q), 6);
    assert_eq!(score(&entry(3, vec![1, 1, 1]), 4, &q), 0, "other label");
    assert_eq!(score(&entry(4, vec![-1, -1, 0]), 4, &q), 0, "negative dot");
    assert_eq!(score(&entry(4, vec![0, 0, 0]), 4, &q), 0);
    // No overflow at the runtime's bounds.
    let big = 1i64 << 40;
    assert_eq!(
        score(&entry(0, vec![big; 3]), 0, &[big; 3]),
        3 * (i128::from(big) * i128::from(big))
    );
}

#[test]
fn top_k_breaks_ties_to_the_lower_index_and_reports_the_threshold() {
    let scores = [5, 9, 5, 0, 9, 5];
    let t = top_k(&scores, 4).expect("k in range");
    assert_eq!(t.indices, vec![1, 4, 0, 2]);
    assert_eq!(t.scores, vec![9, 9, 5, 5]);
    assert_eq!(t.threshold, 5);
    let all_zero = top_k(&[0; 5], 2).expect("k in range");
    assert_eq!(all_zero.indices, vec![0, 1]);
    assert_eq!(all_zero.threshold, 0);
    assert!(matches!(
        top_k(&scores, 7),
        Err(AttributionError::BadK { k: 7, entries: 6 })
    ));
    assert!(matches!(
        top_k(&scores, 0),
        Err(AttributionError::BadK { .. })
    ));
}

/// Imports the fixture datanet into a fresh store, seals it under a dummy root (the runtime
/// cannot compute the Poseidon root) and indexes version 1 for `model`.
fn fixture_index(model: &QModel) -> (DatanetFile, AttributionIndex) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = FileStore::new(dir.path());
    let file = DatanetFile::read(&fixtures().join("datanet/digits.json")).expect("fixture");
    let (spec, _) = file.spec(None, Some(10)).expect("spec");
    let d = store.create(spec).expect("create");
    let report = import(&mut store, &d.id, &file).expect("import");
    assert!(!report.accepted.is_empty());
    let open = store.get(&d.id).expect("get");
    assert!(
        matches!(
            build_index(model, &open, 1),
            Err(AttributionError::VersionOpen { version: 1, .. })
        ),
        "an open version cannot be indexed"
    );
    store.seal(&d.id, Root([0; 32])).expect("seal");
    let sealed = store.get(&d.id).expect("get");
    let index = build_index(model, &sealed, 1).expect("index");
    assert_eq!(index.entries.len(), report.accepted.len());
    assert_eq!(index.datanet_root, Root([0; 32]).to_string());
    (file, index)
}

#[test]
fn index_rejects_a_datanet_of_another_input_length() {
    let (_, q, _) = compile("mlp_small");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = FileStore::new(dir.path());
    let d = store
        .create(DatanetSpec {
            name: "short".into(),
            curator: Address([2; 20]),
            input_shape: vec![3],
            classes: 2,
        })
        .expect("create");
    let err = build_index(&q, &d, 1).expect_err("length differs");
    assert!(matches!(err, AttributionError::InputLength { .. }));
    assert!(err.to_string().contains("3 values"), "{err}");
}

#[test]
fn attribution_quality_on_the_fixture_datanet() {
    let (_, q, _) = compile("mlp_small");
    let (file, index) = fixture_index(&q);
    let (inputs, labels) = test_set();

    // Determinism: indexing again gives the same index; attributing twice, the same result.
    let (_, again) = fixture_index(&q);
    assert_eq!(again, index);
    let a = attribute(&q, &index, &inputs[0], DEFAULT_K).expect("attribute");
    assert_eq!(
        a,
        attribute(&q, &index, &inputs[0], DEFAULT_K).expect("attribute")
    );
    assert_eq!(a.top.len(), DEFAULT_K);

    let addr = |i: usize| -> Address { file.contributors[i].address.parse().expect("address") };
    let mislabeler = addr(7);
    assert_eq!(file.contributors[7].role.as_deref(), Some("mislabeler"));

    let mut total: BTreeMap<Address, i128> = BTreeMap::new();
    let mut top_entries: BTreeMap<Address, usize> = BTreeMap::new();
    let mut top_scores: BTreeMap<Address, i128> = BTreeMap::new();
    let mut correct = 0;
    let mut top_label_match = 0usize;
    for (x, &y) in inputs.iter().zip(&labels) {
        let a = attribute(&q, &index, x, DEFAULT_K).expect("attribute");
        correct += usize::from(a.predicted_class as usize == y);
        for c in &a.contributors {
            *total.entry(c.contributor).or_default() += c.score;
            *top_entries.entry(c.contributor).or_default() += c.top_k_entries;
            *top_scores.entry(c.contributor).or_default() += c.top_k_score;
        }
        top_label_match += a
            .top
            .iter()
            .filter(|t| t.label == a.predicted_class && t.score > 0)
            .count();
    }
    let grand: i128 = total.values().sum();
    let grand_top: i128 = top_scores.values().sum();
    assert!(grand > 0);
    let share = |s: i128, of: i128| 100.0 * s as f64 / of as f64;
    println!(
        "attribution quality, {} ({} entries, d = {}), {} held-out inputs, predictions {}/{} correct",
        q.name,
        index.entries.len(),
        index.dim(),
        inputs.len(),
        correct,
        inputs.len()
    );
    println!("  top-{DEFAULT_K} entries with the predicted label and positive score: {top_label_match}/{}", DEFAULT_K * inputs.len());
    println!("  #  role        contributor                                 share(all)  share(top-{DEFAULT_K})  top-{DEFAULT_K} slots");
    for (i, c) in file.contributors.iter().enumerate() {
        let a = addr(i);
        println!(
            "  {i}  {:<10}  {}  {:>8.3}%  {:>10.3}%  {:>6}",
            c.role.as_deref().unwrap_or("-"),
            a,
            share(total.get(&a).copied().unwrap_or(0), grand),
            share(top_scores.get(&a).copied().unwrap_or(0), grand_top),
            top_entries.get(&a).copied().unwrap_or(0)
        );
    }
    // The criterion is on what is paid: rewards go to the k published entries in proportion to
    // their scores, so the mislabeler's share of the top-k score mass is the figure that must
    // stay ≤ 1%. Over *all* entries the v1 score cannot reach it: ReLU embeddings make every
    // dot product ≥ 0, so each mislabeled entry carrying the predicted label scores > 0 however
    // dissimilar its sample (measured: 7.65% at the default embedding, 2.6% at the logits, with
    // top-k shares 0.75% and 0.47%). That share is still asserted to be below every honest
    // contributor's.
    let m_top = share(top_scores.get(&mislabeler).copied().unwrap_or(0), grand_top);
    let m_all = share(total.get(&mislabeler).copied().unwrap_or(0), grand);
    println!("  mislabeler share of the top-{DEFAULT_K} score (what is paid): {m_top:.4}% (criterion ≤ 1%)");
    println!("  mislabeler share of the score over all entries: {m_all:.4}%");
    assert!(
        m_top <= 1.0,
        "mislabeler receives {m_top:.4}% of the top-k score"
    );
    for (i, c) in file.contributors.iter().enumerate() {
        if c.role.as_deref() == Some("honest") {
            let h = share(total.get(&addr(i)).copied().unwrap_or(0), grand);
            assert!(m_all < h, "mislabeler {m_all:.3}% vs honest #{i} {h:.3}%");
        }
    }
}
