//! SRS sources (dev, ceremony, downsizing) and the damage every artifact file must survive as a
//! clear error: flipped byte, truncation, wrong magic, wrong kind, insecure flag everywhere.

mod common;

use common::mlp_small;
use poa_circuits::Visibility;
use poa_prover::header::{Header, Kind, FLAG_INSECURE, HEADER_LEN};
use poa_prover::{keygen, prove, verify, ProverError, ProvingKey, Srs, VerifyingKey};

#[test]
fn keygen_rejects_too_small_srs() {
    let s = mlp_small();
    let need = s.pk.id().k;
    let err = keygen(&s.model, &Visibility::default(), &Srs::dev(need - 1)).expect_err("too small");
    assert!(
        matches!(err, ProverError::SrsTooSmall { have_k, need_k } if have_k == need - 1 && need_k == need),
        "{err:?}"
    );
    assert!(err.to_string().contains("SRS too small"), "{err}");
    assert!(matches!(
        Srs::dev(4).downsize(5),
        Err(ProverError::SrsTooSmall {
            have_k: 4,
            need_k: 5
        })
    ));
}

#[test]
fn ceremony_params_load_and_downsize_to_the_dev_srs_of_that_k() {
    let s = mlp_small();
    let k = s.srs.k();
    // A raw halo2 params file two sizes larger, as PSE/ezkl ship them.
    let raw = Srs::dev(k + 2).to_raw_bytes();
    let big = Srs::from_ceremony_bytes(&raw).expect("raw params load");
    assert_eq!(big.k(), k + 2);
    assert!(!big.is_insecure(), "a ceremony file is not flagged");
    let fitted = big.downsize(k).expect("downsizes");
    // Same seed ⇒ same secret: the downsized params equal the dev SRS of size k byte for byte
    // (g truncated, g_lagrange recomputed).
    assert_eq!(fitted.to_raw_bytes(), s.srs.to_raw_bytes());

    // Keys and proofs made from it carry no insecure flag.
    let pk = keygen(&s.model, &Visibility::default(), &fitted).expect("keygen");
    assert!(!pk.is_insecure());
    let proof = prove(&fitted, &pk, &s.model, &s.trace).expect("proves");
    assert!(!proof.insecure_srs);
    verify(&fitted, &pk.verifying_key(), &proof).expect("verifies");
    // …and a proof from these keys does not verify under the dev-SRS vk (same circuit, other flag).
    assert!(matches!(
        verify(&s.srs, &s.vk, &proof),
        Err(ProverError::InsecureMismatch { .. })
    ));
}

#[test]
fn ceremony_file_rejects_truncation_bad_k_and_off_curve_points() {
    let raw = Srs::dev(3).to_raw_bytes();
    assert!(matches!(
        Srs::from_ceremony_bytes(&raw[..raw.len() - 1]),
        Err(ProverError::Length { .. })
    ));
    let mut huge = raw.clone();
    huge[..4].copy_from_slice(&40u32.to_le_bytes());
    assert!(matches!(
        Srs::from_ceremony_bytes(&huge),
        Err(ProverError::Decode { .. })
    ));
    let mut off_curve = raw.clone();
    off_curve[4 + 64 + 5] ^= 0x10; // second point's x coordinate
    assert!(matches!(
        Srs::from_ceremony_bytes(&off_curve),
        Err(ProverError::Decode { .. })
    ));
    assert!(matches!(
        Srs::from_ceremony_bytes(&[]),
        Err(ProverError::Length { .. })
    ));
    // s_g2 replaced by g2 (a valid point, wrong secret): only the pairing check catches it.
    let mut wrong_secret = raw.clone();
    let n = raw.len();
    wrong_secret.copy_within(n - 256..n - 128, n - 128);
    let err = Srs::from_ceremony_bytes(&wrong_secret).expect_err("inconsistent s_g2");
    assert!(err.to_string().contains("pairing check"), "{err}");
}

#[test]
fn dev_srs_flags_every_artifact_insecure() {
    let s = mlp_small();
    for (kind, bytes) in [
        (Kind::Srs, s.srs.to_file_bytes()),
        (Kind::ProvingKey, s.pk.to_file_bytes()),
        (Kind::VerifyingKey, s.vk.to_file_bytes()),
    ] {
        let (h, _) = Header::open(kind, &bytes).expect("opens");
        assert_eq!(h.flags & FLAG_INSECURE, FLAG_INSECURE, "{kind:?}");
    }
    assert!(Srs::from_file_bytes(&s.srs.to_file_bytes())
        .expect("loads")
        .is_insecure());
    assert!(s.proof.to_json().contains("\"insecure_srs\": true"));
}

/// Flips one byte at `at` (header or payload) and truncates; both must be errors from `load`.
fn assert_damage_detected<T: std::fmt::Debug>(
    name: &str,
    bytes: &[u8],
    load: impl Fn(&[u8]) -> Result<T, ProverError>,
) {
    for at in [20, 40, HEADER_LEN + 3, bytes.len() / 2, bytes.len() - 1] {
        let mut b = bytes.to_vec();
        b[at] ^= 0x40;
        match load(&b) {
            Err(ProverError::Checksum { .. }) => {}
            other => panic!("{name}: byte {at} flipped: expected Checksum, got {other:?}"),
        }
    }
    for len in [bytes.len() - 1, HEADER_LEN + 10, 50] {
        match load(&bytes[..len]) {
            Err(ProverError::Length { .. }) => {}
            other => panic!("{name}: truncated to {len}: expected Length, got {other:?}"),
        }
    }
    let mut magic = bytes.to_vec();
    magic[..8].copy_from_slice(b"GARBAGE!");
    match load(&magic) {
        Err(e @ ProverError::BadMagic { .. }) => assert!(e.to_string().contains("GARBAGE!")),
        other => panic!("{name}: bad magic: got {other:?}"),
    }
}

#[test]
fn corrupted_srs_pk_vk_files_are_checksum_length_or_magic_errors() {
    let s = mlp_small();
    assert_damage_detected("srs", &s.srs.to_file_bytes(), Srs::from_file_bytes);
    assert_damage_detected("pk", &s.pk.to_file_bytes(), ProvingKey::from_file_bytes);
    assert_damage_detected("vk", &s.vk.to_file_bytes(), VerifyingKey::from_file_bytes);
}

#[test]
fn a_vk_file_is_not_a_pk_file() {
    let s = mlp_small();
    let err = ProvingKey::from_file_bytes(&s.vk.to_file_bytes()).expect_err("vk as pk");
    assert!(
        matches!(
            err,
            ProverError::BadMagic {
                what: "proving key",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        Srs::from_file_bytes(&s.srs.to_raw_bytes()),
        Err(ProverError::BadMagic { what: "SRS", .. })
    ));
}

#[test]
fn prove_and_verify_refuse_an_srs_of_another_size() {
    let s = mlp_small();
    let bigger = Srs::dev(s.srs.k() + 1);
    assert!(matches!(
        verify(&bigger, &s.vk, &s.proof),
        Err(ProverError::KMismatch { .. })
    ));
    assert!(matches!(
        prove(&Srs::dev(s.srs.k() - 1), &s.pk, &s.model, &s.trace),
        Err(ProverError::SrsTooSmall { .. })
    ));
}
