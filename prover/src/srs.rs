//! Structured reference strings (KZG powers of tau on BN254).
//!
//! Two sources:
//! - **ceremony files**: a raw halo2 `ParamsKZG` serialization (`k` as u32 LE, then `g`,
//!   `g_lagrange` as uncompressed G1 points, then `g2`, `s_g2`) — the layout of the PSE/ezkl
//!   `kzg<k>.srs` files. A larger one is downsized to the `k` a circuit needs.
//! - **dev SRS**: generated from a fixed public seed, so anyone can recompute its toxic waste. It
//!   is flagged insecure in its header, and every key and proof made with it carries the flag.
//!
//! Our own SRS file is the [`crate::header`] container around the same raw serialization.

use std::path::Path;

use halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_proofs::SerdeFormat;
use halo2curves::bn256::{Bn256, G1Affine, G2Affine};
use halo2curves::pairing::Engine;
use halo2curves::CurveAffine;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::error::{ProverError, Result};
use crate::header::{Header, Kind, FLAG_INSECURE};
use crate::read_file;

/// Public seed of the dev SRS. Public on purpose: anyone can forge proofs against it.
pub const DEV_SEED: [u8; 32] = *b"openpoa dev srs: INSECURE, v1!!!";

/// Largest `k` accepted from a file (BN254's 2-adicity is 28; 2^26 points is already 8 GiB raw).
pub const MAX_K: u32 = 26;

/// Bytes of an uncompressed G1 / G2 point in halo2's `RawBytes` format.
const G1_RAW: u64 = 64;
const G2_RAW: u64 = 128;

/// KZG parameters and whether they come from the insecure dev setup.
#[derive(Clone, Debug)]
pub struct Srs {
    params: ParamsKZG<Bn256>,
    insecure: bool,
}

impl Srs {
    /// The dev SRS of size `2^k` from [`DEV_SEED`]. **Insecure**: for tests and demos only.
    /// Every `k` shares the same secret, so a dev SRS downsized from a larger one is identical.
    /// The points are those `ParamsKZG::setup` makes from the seed, computed faster.
    pub fn dev(k: u32) -> Self {
        Self {
            params: crate::dev_srs::params(k, ChaCha20Rng::from_seed(DEV_SEED)),
            insecure: true,
        }
    }

    /// Parses a ceremony file's raw halo2 params (as PSE/ezkl `kzg<k>.srs`). Length and `k` are
    /// checked before anything is allocated; then every point of `g` must be on the curve, `g[0]`
    /// and `g2` the generators and `s_g2` consistent with `g[1]` (one pairing check). `g_lagrange`
    /// is recomputed from `g` rather than trusted.
    pub fn from_ceremony_bytes(bytes: &[u8]) -> Result<Self> {
        Ok(Self {
            params: validate_ceremony(read_raw_params("ceremony SRS", bytes)?)?,
            insecure: false,
        })
    }

    /// Reads a ceremony file.
    pub fn load_ceremony(path: &Path) -> Result<Self> {
        Self::from_ceremony_bytes(&read_file(path)?)
    }

    /// The raw halo2 serialization (the ceremony-file format, without our header).
    pub fn to_raw_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(raw_len(self.k()) as usize);
        // Writing into a Vec cannot fail.
        let _ = self.params.write_custom(&mut out, SerdeFormat::RawBytes);
        out
    }

    /// Our SRS file: header (magic `POASRS01`, flags incl. insecure, k, checksum) + raw params.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        Header {
            kind: Kind::Srs,
            flags: if self.insecure { FLAG_INSECURE } else { 0 },
            k: self.k(),
            instances: 0,
            model_digest: [0; 32],
            circuit_digest: [0; 32],
        }
        .seal(&self.to_raw_bytes())
    }

    /// Parses our SRS file, checking magic, version, checksum and that `k` matches the payload.
    /// The points are not re-validated: the file is ours (written after validation or generated)
    /// and its checksum covers every byte.
    pub fn from_file_bytes(bytes: &[u8]) -> Result<Self> {
        let (header, payload) = Header::open(Kind::Srs, bytes)?;
        let params = read_raw_params("SRS", payload)?;
        if params.k() != header.k {
            return Err(ProverError::KMismatch {
                what: "SRS payload",
                expected: header.k,
                found: params.k(),
            });
        }
        Ok(Self {
            params,
            insecure: header.insecure(),
        })
    }

    /// Reads our SRS file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_file_bytes(&read_file(path)?)
    }

    /// This SRS cut to exactly `2^need_k` points, or [`ProverError::SrsTooSmall`].
    pub fn downsize(&self, need_k: u32) -> Result<Self> {
        let have_k = self.k();
        if have_k < need_k {
            return Err(ProverError::SrsTooSmall { have_k, need_k });
        }
        let mut params = self.params.clone();
        if have_k > need_k {
            params.downsize(need_k);
        }
        Ok(Self {
            params,
            insecure: self.insecure,
        })
    }

    /// `log2` of the number of points.
    pub fn k(&self) -> u32 {
        self.params.k()
    }

    /// True for the dev SRS (and anything made from it).
    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    /// The halo2 parameters.
    pub fn params(&self) -> &ParamsKZG<Bn256> {
        &self.params
    }
}

/// Size of a raw params serialization of size `2^k`.
fn raw_len(k: u32) -> u64 {
    4 + 2 * (1u64 << k) * G1_RAW + 2 * G2_RAW
}

fn read_raw_params(what: &'static str, bytes: &[u8]) -> Result<ParamsKZG<Bn256>> {
    let head: [u8; 4] =
        bytes
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or(ProverError::Length {
                what,
                expected: raw_len(0),
                found: bytes.len() as u64,
            })?;
    let k = u32::from_le_bytes(head);
    if k > MAX_K {
        return Err(ProverError::Decode {
            what,
            reason: format!(
                "k={k} exceeds the supported maximum {MAX_K}; is this a halo2 KZG params file?"
            ),
        });
    }
    if bytes.len() as u64 != raw_len(k) {
        return Err(ProverError::Length {
            what,
            expected: raw_len(k),
            found: bytes.len() as u64,
        });
    }
    // `RawBytes` checks every point is on the curve (`Params::read` would use the unchecked
    // format, which trusts the file). The cost is small next to loading it.
    ParamsKZG::read_custom(&mut &bytes[..], SerdeFormat::RawBytes).map_err(|e| {
        ProverError::Decode {
            what,
            reason: e.to_string(),
        }
    })
}

fn validate_ceremony(params: ParamsKZG<Bn256>) -> Result<ParamsKZG<Bn256>> {
    let bad = |reason: String| ProverError::Decode {
        what: "ceremony SRS",
        reason,
    };
    let g = params.get_g();
    if let Some(i) = g.iter().position(|p| !bool::from(p.is_on_curve())) {
        return Err(bad(format!("point g[{i}] is not on the BN254 curve")));
    }
    if g.first() != Some(&G1Affine::generator()) || params.g2() != G2Affine::generator() {
        return Err(bad("g[0] or g2 is not the generator".into()));
    }
    let s_g2 = params.s_g2();
    if !bool::from(s_g2.is_on_curve()) {
        return Err(bad("s_g2 is not on the curve".into()));
    }
    // e(g[1], g2) = e(g[0], s_g2) ⇔ s_g2 carries the same secret as g[1].
    if let Some(g1) = g.get(1) {
        if Bn256::pairing(g1, &params.g2()) != Bn256::pairing(&g[0], &s_g2) {
            return Err(bad("s_g2 does not match g[1] (pairing check failed)".into()));
        }
    }
    Ok(params.from_parts(params.k(), g.to_vec(), None, params.g2(), s_g2))
}
