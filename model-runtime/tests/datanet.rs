//! Datanets as a specification: every validation error, exact and near duplicates across
//! versions, sealing immutability, the fixture import (12 resubmitted entries rejected), and the
//! file store's round trip and atomicity.

mod common;

use common::fixtures;
use poa_runtime::datanet::{
    content_hash, import, quantize, Address, ContentHash, Datanet, DatanetError, DatanetFile,
    DatanetId, DatanetSpec, DatanetStore, EntryRef, FileStore, NewContribution, Root,
    NEAR_DUPLICATE_BITS,
};
use sha2::{Digest, Sha256};

const INPUT_LEN: usize = 4;

fn addr(n: u8) -> Address {
    Address([n; 20])
}

fn spec() -> DatanetSpec {
    DatanetSpec {
        name: "Tiny Digits".into(),
        curator: addr(0xcc),
        input_shape: vec![INPUT_LEN],
        classes: 3,
    }
}

/// A sample whose values are distinct at the datanet precision for distinct `seed`s.
fn sample(seed: u32) -> Vec<f32> {
    (0..INPUT_LEN as u32)
        .map(|i| (seed * 7 + i) as f32 / 16.0)
        .collect()
}

fn contribution(who: u8, sample: Vec<f32>, label: u32) -> NewContribution {
    NewContribution {
        contributor: addr(who),
        sample,
        label,
    }
}

fn datanet() -> Datanet {
    Datanet::new(DatanetId::slug_of("tiny"), spec(), 1_700_000_000).expect("valid spec")
}

fn root(b: u8) -> Root {
    Root([b; 32])
}

fn fixed_clock() -> u64 {
    1_700_000_000
}

/// A file store in a fresh temporary folder (kept alive by the returned guard).
fn store() -> (tempfile::TempDir, FileStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(dir.path().join("datanets"));
    (dir, store)
}

// ---------------------------------------------------------------- validation

#[test]
fn rejects_sample_of_wrong_length() {
    let mut d = datanet();
    let err = d
        .add(None, contribution(1, vec![0.5; INPUT_LEN + 1], 0), 0)
        .expect_err("5 values for a 4-value datanet");
    assert!(
        matches!(
            err,
            DatanetError::SampleLength {
                expected: 4,
                got: 5,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("5 values") && msg.contains("4 values"),
        "{msg}"
    );
    assert!(d.versions[0].contributions.is_empty());
}

#[test]
fn rejects_label_out_of_range() {
    let mut d = datanet();
    let err = d
        .add(None, contribution(1, sample(1), 3), 0)
        .expect_err("label 3 with 3 classes");
    assert!(
        matches!(
            err,
            DatanetError::LabelOutOfRange {
                label: 3,
                classes: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("labels 0..=2"), "{err}");
    d.add(None, contribution(1, sample(1), 2), 0)
        .expect("label 2 is the last class");
}

#[test]
fn rejects_non_finite_values() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut d = datanet();
        let mut s = sample(1);
        s[2] = bad;
        let err = d
            .add(None, contribution(1, s, 0), 0)
            .expect_err("non-finite value");
        assert!(
            matches!(err, DatanetError::NonFiniteValue { index: 2, .. }),
            "{bad}: {err:?}"
        );
        assert!(err.to_string().contains("index 2"), "{err}");
    }
}

#[test]
fn rejects_malformed_addresses() {
    let good = "0x18396e1cb68aacafe42c104fb267d5fd864d199f";
    let parsed: Address = good.parse().expect("well-formed address");
    assert_eq!(parsed.to_string(), good);
    assert_eq!(
        good.to_uppercase()
            .replacen("0X", "0x", 1)
            .parse::<Address>()
            .ok(),
        Some(parsed),
        "letter case does not matter"
    );
    for (bad, why) in [
        ("18396e1cb68aacafe42c104fb267d5fd864d199f", "missing 0x"),
        ("0x18396e1cb68aacafe42c104fb267d5fd864d199", "39 hex digits"),
        (
            "0x18396e1cb68aacafe42c104fb267d5fd864d199f00",
            "42 hex digits",
        ),
        ("0x18396e1cb68aacafe42c104fb267d5fd864d199g", "not hex"),
        ("", "missing 0x"),
    ] {
        let err = bad.parse::<Address>().expect_err(bad);
        assert!(
            matches!(&err, DatanetError::InvalidAddress { value, .. } if value == bad),
            "{bad}: {err:?}"
        );
        assert!(err.to_string().contains(why), "{bad}: {err}");
    }
}

#[test]
fn rejects_invalid_specs_and_ids() {
    for (s, why) in [
        (
            DatanetSpec {
                name: "  ".into(),
                ..spec()
            },
            "name",
        ),
        (
            DatanetSpec {
                input_shape: vec![0],
                ..spec()
            },
            "input length",
        ),
        (
            DatanetSpec {
                classes: 0,
                ..spec()
            },
            "class",
        ),
    ] {
        let err = Datanet::new(DatanetId::slug_of("x"), s, 0).expect_err(why);
        assert!(
            matches!(&err, DatanetError::InvalidSpec(m) if m.contains(why)),
            "{err:?}"
        );
    }
    for bad in ["../etc", "Digits", "a--b", "-a", "", "a/b"] {
        assert!(
            matches!(bad.parse::<DatanetId>(), Err(DatanetError::InvalidId(_))),
            "{bad}"
        );
    }
    assert_eq!(
        DatanetId::slug_of("Tiny Digits (v2)!").as_str(),
        "tiny-digits-v2"
    );
    assert_eq!(DatanetId::slug_of("***").as_str(), "datanet");
}

// ---------------------------------------------------------------- fingerprints

#[test]
fn content_hash_is_sha256_of_the_documented_encoding() {
    let s = [0.5f32, -0.0, 1.0];
    let mut pre = b"openpoa-datanet-contribution-v1".to_vec();
    pre.extend(3u64.to_le_bytes());
    for v in s {
        pre.extend(v.to_bits().to_le_bytes());
    }
    pre.extend(7u32.to_le_bytes());
    let expected: [u8; 32] = Sha256::digest(&pre).into();
    assert_eq!(content_hash(&s, 7), ContentHash(expected));
    assert_ne!(content_hash(&s, 7), content_hash(&s, 6), "label is hashed");
    assert_ne!(
        content_hash(&[0.5, 0.0, 1.0], 7),
        content_hash(&s, 7),
        "bits, not values: -0.0 differs from 0.0"
    );
    assert_ne!(
        content_hash(&[0.5, 0.0], 7),
        content_hash(&[0.5, 0.0, 0.0], 7),
        "length-prefixed"
    );
}

#[test]
fn quantize_rounds_at_the_datanet_precision() {
    assert_eq!(NEAR_DUPLICATE_BITS, 8);
    assert_eq!(
        quantize(&[1.0, -0.5, 0.001, 0.002, -0.002, 1e30]),
        vec![256, -128, 0, 1, -1, i32::MAX]
    );
}

// ---------------------------------------------------------------- duplicates

#[test]
fn rejects_exact_duplicate_naming_the_earlier_contribution() {
    let mut d = datanet();
    d.add(None, contribution(1, sample(1), 0), 0)
        .expect("first");
    let first = d
        .add(None, contribution(2, sample(2), 1), 0)
        .expect("second");
    let err = d
        .add(None, contribution(3, sample(2), 1), 0)
        .expect_err("same sample and label from someone else");
    match &err {
        DatanetError::ExactDuplicate { of } => assert_eq!(*of, first),
        other => panic!("expected ExactDuplicate, got {other:?}"),
    }
    assert_eq!(
        first,
        EntryRef {
            version: 1,
            index: 1,
            contributor: addr(2)
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("version 1 entry #1") && msg.contains(&addr(2).to_string()),
        "{msg}"
    );
    assert_eq!(d.versions[0].contributions.len(), 2, "nothing added");
}

#[test]
fn rejects_near_duplicates_across_versions() {
    let mut d = datanet();
    d.add(None, contribution(1, sample(1), 0), 0)
        .expect("first");
    d.seal(root(1), 0).expect("seal v1");

    // A sample nudged below the datanet precision, into version 2.
    let mut nudged = sample(1);
    nudged[0] += 0.001;
    let err = d
        .add(None, contribution(2, nudged, 0), 0)
        .expect_err("near duplicate of a version-1 entry");
    assert!(
        matches!(
            err,
            DatanetError::NearDuplicate {
                of: EntryRef {
                    version: 1,
                    index: 0,
                    ..
                },
                bits: 8
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("version 1 entry #0"), "{err}");

    // The same sample relabelled is a near duplicate too (a mislabelled copy).
    let err = d
        .add(None, contribution(2, sample(1), 2), 0)
        .expect_err("relabelled copy");
    assert!(matches!(err, DatanetError::NearDuplicate { .. }), "{err:?}");

    // A difference at the precision is a different sample.
    let mut distinct = sample(1);
    distinct[0] += 1.0 / 256.0;
    let at = d
        .add(None, contribution(2, distinct, 0), 0)
        .expect("one step of 2^-8 apart is not a duplicate");
    assert_eq!((at.version, at.index), (2, 0));
}

#[test]
fn rejects_duplicates_within_one_batch() {
    let mut d = datanet();
    let results = d
        .add_all(
            None,
            vec![
                contribution(1, sample(1), 0),
                contribution(2, sample(1), 0),
                contribution(3, sample(3), 0),
            ],
            0,
        )
        .expect("batch");
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(
        matches!(&results[1], Err(DatanetError::ExactDuplicate { of }) if of.contributor == addr(1)),
        "{results:?}"
    );
    assert_eq!(d.versions[0].contributions.len(), 2);
}

// ---------------------------------------------------------------- versions and sealing

#[test]
fn adding_to_a_sealed_version_is_an_error() {
    let mut d = datanet();
    d.add(None, contribution(1, sample(1), 0), 0).expect("add");
    let sealed = d.seal(root(7), 5).expect("seal");
    assert_eq!((sealed.version, sealed.open), (1, 2));
    assert_eq!(sealed.seal.root, root(7));
    assert_eq!(sealed.seal.entries, 1);

    let err = d
        .add(Some(1), contribution(2, sample(2), 0), 0)
        .expect_err("version 1 is sealed");
    assert!(
        matches!(
            err,
            DatanetError::VersionSealed {
                version: 1,
                open: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("sealed")
            && msg.contains(&root(7).to_string())
            && msg.contains("open version 2"),
        "{msg}"
    );
    assert_eq!(d.versions[0].contributions.len(), 1);

    let err = d
        .add(Some(3), contribution(2, sample(2), 0), 0)
        .expect_err("no version 3");
    assert!(
        matches!(
            err,
            DatanetError::UnknownVersion {
                version: 3,
                latest: 2,
                ..
            }
        ),
        "{err:?}"
    );
    d.add(Some(2), contribution(2, sample(2), 0), 0)
        .expect("version 2 is open");
}

#[test]
fn sealing_an_empty_version_is_an_error() {
    let mut d = datanet();
    let err = d.seal(root(1), 0).expect_err("nothing to seal");
    assert!(
        matches!(err, DatanetError::EmptyVersion { version: 1, .. }),
        "{err:?}"
    );
    assert_eq!(d.versions.len(), 1);
    assert!(!d.versions[0].is_sealed());
}

#[test]
fn entries_of_a_sealed_version_never_change() {
    let (_dir, mut store) = store();
    let id = store.create(spec()).expect("create").id;
    for i in 0..3 {
        store
            .add(&id, None, contribution(1, sample(i), 0))
            .expect("add");
    }
    let before = store.entries(&id, 1).expect("v1");
    let leaves = store.get(&id).expect("get").versions[0].leaves();
    store.seal(&id, root(9)).expect("seal");
    assert_eq!(
        store.entries(&id, 1).expect("v1"),
        before,
        "sealing keeps the entries"
    );

    store
        .add(&id, None, contribution(2, sample(10), 1))
        .expect("add to v2");
    let _ = store.add(&id, Some(1), contribution(2, sample(11), 1));
    let d = store.get(&id).expect("get");
    assert_eq!(d.versions[0].contributions, before);
    assert_eq!(d.versions[0].leaves(), leaves);
    assert_eq!(d.versions[1].contributions.len(), 1);
    assert_eq!(d.versions[0].seal.as_ref().map(|s| s.root), Some(root(9)));
}

#[test]
fn resealing_the_same_entries_gives_the_same_stored_data() {
    let build = || {
        let (dir, store) = store();
        let mut store = store.with_clock(fixed_clock);
        let id = store.create(spec()).expect("create").id;
        for i in 0..5 {
            store
                .add(&id, None, contribution(i as u8, sample(i), i % 3))
                .expect("add");
        }
        let sealed = store.seal(&id, root(3)).expect("seal");
        let bytes = std::fs::read(store.path_of(&id)).expect("stored file");
        (dir, sealed, bytes)
    };
    let (_a, sealed_a, bytes_a) = build();
    let (_b, sealed_b, bytes_b) = build();
    assert_eq!(sealed_a, sealed_b);
    assert_eq!(
        bytes_a, bytes_b,
        "same entries, same root, same clock: same bytes"
    );
}

#[test]
fn a_sealed_version_edited_on_disk_is_detected() {
    let (_dir, mut store) = store();
    let id = store.create(spec()).expect("create").id;
    store
        .add(&id, None, contribution(1, sample(1), 0))
        .expect("add");
    store.seal(&id, root(1)).expect("seal");
    let path = store.path_of(&id);
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    // Relabel the sealed entry and fix up its content hash, as a careless editor would.
    let c = &mut v["datanet"]["versions"][0]["contributions"][0];
    c["label"] = 1.into();
    c["content_hash"] = content_hash(&sample(1), 1).to_string().into();
    std::fs::write(&path, serde_json::to_vec(&v).expect("json")).expect("write");
    let err = store.get(&id).expect_err("sealed entries were edited");
    assert!(
        matches!(&err, DatanetError::Corrupt { detail, .. } if detail.contains("sealed version 1")),
        "{err:?}"
    );
}

// ---------------------------------------------------------------- file store

#[test]
fn file_store_round_trip() {
    let (_dir, mut store) = store();
    assert!(store.list().expect("empty list").is_empty());
    let created = store.create(spec()).expect("create");
    assert_eq!(created.id.as_str(), "tiny-digits");
    let second = store.create(spec()).expect("same name again");
    assert_eq!(second.id.as_str(), "tiny-digits-2");

    let id = created.id.clone();
    let at = store
        .add(&id, None, contribution(1, vec![0.1, -0.25, 1e-7, 3.0], 2))
        .expect("add");
    assert_eq!((at.version, at.index, at.contributor), (1, 0, addr(1)));
    let d = store.get(&id).expect("get");
    let c = &d.versions[0].contributions[0];
    assert_eq!(
        c.sample,
        vec![0.1, -0.25, 1e-7, 3.0],
        "f32 values survive JSON exactly"
    );
    assert_eq!(c.content_hash, content_hash(&c.sample, 2));
    assert!(c.time > 1_600_000_000, "system clock time: {}", c.time);
    assert_eq!(
        (d.name.as_str(), d.curator, d.input_len(), d.classes),
        ("Tiny Digits", addr(0xcc), INPUT_LEN, 3)
    );
    assert_eq!(
        store.list().expect("list"),
        vec![created.id, second.id],
        "sorted ids"
    );
    let reopened = FileStore::new(store.root());
    assert_eq!(reopened.get(&id).expect("get again"), d);

    let err = store
        .get(&"nope".parse().expect("id"))
        .expect_err("unknown datanet");
    assert!(
        matches!(err, DatanetError::UnknownDatanet { .. }),
        "{err:?}"
    );
    let err = store.entries(&id, 2).expect_err("no version 2 yet");
    assert!(
        matches!(
            err,
            DatanetError::UnknownVersion {
                version: 2,
                latest: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_failed_add_leaves_the_file_unchanged() {
    let (_dir, mut store) = store();
    let id = store.create(spec()).expect("create").id;
    store
        .add(&id, None, contribution(1, sample(1), 0))
        .expect("add");
    let path = store.path_of(&id);
    let before = std::fs::read(&path).expect("read");

    // Rejected by validation.
    for bad in [
        contribution(2, sample(1), 0),
        contribution(2, vec![0.0; 3], 0),
        contribution(2, sample(2), 9),
    ] {
        store.add(&id, None, bad).expect_err("rejected");
        assert_eq!(std::fs::read(&path).expect("read"), before);
    }

    // Rejected by the file system: the staging path is blocked by a folder.
    let tmp = store.temp_path_of(&id);
    std::fs::create_dir(&tmp).expect("block the staging path");
    let err = store
        .add(&id, None, contribution(2, sample(2), 0))
        .expect_err("cannot stage the write");
    assert!(matches!(err, DatanetError::Io { .. }), "{err:?}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "nothing half-written"
    );
    std::fs::remove_dir(&tmp).expect("unblock");
    store
        .add(&id, None, contribution(2, sample(2), 0))
        .expect("works again");
    assert_ne!(std::fs::read(&path).expect("read"), before);
    let leftovers: Vec<_> = std::fs::read_dir(store.root())
        .expect("read_dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

// ---------------------------------------------------------------- import

fn fixture_file() -> DatanetFile {
    DatanetFile::read(&fixtures().join("datanet/digits.json")).expect("fixture datanet parses")
}

/// Contributor #8 resubmits 12 of contributor #2's entries at the end; exactly those 12 are
/// rejected, as exact duplicates naming the original entry. (The fixture has no other exact or
/// near duplicate: every other entry is accepted.)
#[test]
fn import_of_the_fixture_rejects_the_twelve_resubmitted_entries() {
    let file = fixture_file();
    assert_eq!(file.entries.len(), 1449);
    assert_eq!(file.contributors.len(), 10);
    let original: Address = file.contributors[2]
        .address
        .parse()
        .expect("contributor #2");
    let duplicator = &file.contributors[8].address;

    let (_dir, mut store) = store();
    let (spec, _) = file.spec(None, None).expect("spec from the file");
    assert_eq!((spec.input_shape.clone(), spec.classes), (vec![64], 10));
    let id = store.create(spec).expect("create").id;
    let report = import(&mut store, &id, &file).expect("import");

    assert_eq!(report.accepted.len(), 1437);
    assert_eq!(report.rejected.len(), 12);
    for (k, r) in report.rejected.iter().enumerate() {
        assert_eq!(
            r.entry,
            1437 + k,
            "the resubmissions are the last 12 entries"
        );
        assert_eq!(&r.contributor, duplicator);
        let DatanetError::ExactDuplicate { of } = &r.error else {
            panic!(
                "entry {}: expected an exact duplicate, got {:?}",
                r.entry, r.error
            );
        };
        assert_eq!(
            (of.version, of.contributor),
            (1, original),
            "entry {}",
            r.entry
        );
        let e = &file.entries[r.entry];
        let orig = &file.entries[of.index];
        assert_eq!((&orig.sample, orig.label), (&e.sample, e.label));
        assert!(
            r.error.to_string().contains(&original.to_string()),
            "{}",
            r.error
        );
    }

    let d = store.get(&id).expect("get");
    let v1 = &d.versions[0].contributions;
    assert_eq!(v1.len(), 1437);
    let per = |a: &str| {
        let a: Address = a.parse().expect("address");
        v1.iter().filter(|c| c.contributor == a).count()
    };
    let counts: Vec<usize> = file.contributors.iter().map(|c| per(&c.address)).collect();
    assert_eq!(counts, [144, 144, 144, 144, 144, 144, 144, 143, 143, 143]);

    // Importing the same file again adds nothing: every entry is now a duplicate.
    let again = import(&mut store, &id, &file).expect("re-import");
    assert!(again.accepted.is_empty());
    assert_eq!(again.rejected.len(), 1449);
    assert!(again.rejected.iter().all(|r| r.error.is_duplicate()));
}

#[test]
fn import_reports_bad_entries_and_keeps_the_good_ones() {
    let text = r#"{"name": "mini", "curator": "0x3dea41fd57b1661144efd8b85bef9b96b186f4ad",
        "entries": [
          {"contributor": "0x18396e1cb68aacafe42c104fb267d5fd864d199f", "sample": [0, 0.5, 1, 0], "label": 1},
          {"contributor": "0xnot-an-address", "sample": [0, 0.5, 1, 1], "label": 1},
          {"contributor": "0x18396e1cb68aacafe42c104fb267d5fd864d199f", "sample": [0, 0.5], "label": 1},
          {"contributor": "0x18396e1cb68aacafe42c104fb267d5fd864d199f", "sample": [1e39, 0, 0, 0], "label": 1},
          {"contributor": "0x18396e1cb68aacafe42c104fb267d5fd864d199f", "sample": [0, 0, 0, 1], "label": 2}
        ]}"#;
    let file = DatanetFile::parse(text, "mini.json").expect("parses");
    let (spec, sources) = file.spec(Some(vec![4]), None).expect("spec");
    assert_eq!(spec.classes, 3, "inferred: largest label + 1");
    assert_eq!(format!("{sources:?}"), "[Given, Inferred]");
    let (_dir, mut store) = store();
    let id = store.create(spec).expect("create").id;
    let report = import(&mut store, &id, &file).expect("import");
    let accepted: Vec<usize> = report.accepted.iter().map(|a| a.entry).collect();
    assert_eq!(accepted, [0, 4]);
    let reasons: Vec<(usize, &DatanetError)> = report
        .rejected
        .iter()
        .map(|r| (r.entry, &r.error))
        .collect();
    assert!(
        matches!(reasons[0], (1, DatanetError::InvalidAddress { .. })),
        "{reasons:?}"
    );
    assert!(
        matches!(reasons[1], (2, DatanetError::SampleLength { got: 2, .. })),
        "{reasons:?}"
    );
    assert!(
        matches!(
            reasons[2],
            (3, DatanetError::NonFiniteValue { index: 0, .. })
        ),
        "{reasons:?}"
    );
}

#[test]
fn import_aborts_on_malformed_json() {
    let (_dir, mut store) = store();
    let id = store.create(spec()).expect("create").id;
    let path = store.path_of(&id);
    let before = std::fs::read(&path).expect("read");
    for (text, needle) in [
        (
            r#"{"name": "x", "curator": "0x3dea41fd57b1661144efd8b85bef9b96b186f4ad", "entries": [{"#,
            "line 1",
        ),
        (r#"{"name": "x", "entries": []}"#, "curator"),
        (
            r#"{"name": "x", "curator": "0x12", "entries": []}"#,
            "invalid address",
        ),
        (
            r#"{"name": "x", "curator": "0x3dea41fd57b1661144efd8b85bef9b96b186f4ad", "entries": [{"contributor": "0x", "sample": [0], "label": -1}]}"#,
            "expected u32",
        ),
    ] {
        let err = DatanetFile::parse(text, "bad.json").expect_err(needle);
        assert!(
            matches!(&err, DatanetError::Malformed { what, detail } if what.contains("bad.json") && (detail.contains(needle) || what.contains(needle))),
            "{needle}: {err:?}"
        );
    }
    assert_eq!(std::fs::read(&path).expect("read"), before);
}
