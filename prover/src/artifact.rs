//! Files: proving and verifying keys in the [`crate::header`] container, proofs as JSON.
//!
//! A narrow-layout key ([`crate::header::FLAG_NARROW`]) puts its shape — halo2-base's params and
//! break points, which halo2 needs to read the key back and the prover to lay a proof out — in
//! front of the halo2 payload, under the same checksum.
//!
//! Keys are stored in halo2's `SerdeFormat::RawBytes` (uncompressed points, Montgomery field
//! elements, range checks on read). `Processed` would save only the point bytes (a pk is mostly
//! field-element polynomials, 32 bytes either way) and is slower to load; see [`KEY_FORMAT`].
//! The header's checksum is verified before halo2 sees a byte: halo2's polynomial reader
//! `unwrap`s, so a damaged payload must never reach it.
//!
//! Proof JSON (`format` [`PROOF_FORMAT`]):
//! `{format, model_digest, circuit_digest, insecure_srs, instances: ["0x…"], proof: "0x…"}`;
//! instances are 32-byte big-endian field elements, as the EVM verifier reads them; `proof` is
//! the [`crate::codec`] compact encoding (points compressed). Files of the previous format
//! ([`PROOF_FORMAT_V1`], `proof` the EVM transcript bytes as they are) are still read.

use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_proofs::SerdeFormat;
use halo2curves::bn256::{Fr, G1Affine};
use halo2curves::ff::PrimeField;
use poa_circuits::dense::DenseRows;
use poa_circuits::{Layout, ModelCircuit, NarrowShape};
use serde::{Deserialize, Serialize};

use crate::digest::{parse_digest, shape_json, CircuitId};
use crate::error::{ProverError, Result};
use crate::header::{
    Header, Kind, FLAG_ATTRIBUTION, FLAG_DENSE, FLAG_DENSE_TABLES, FLAG_INPUT_HASHED,
    FLAG_INPUT_PRIVATE, FLAG_INSECURE, FLAG_NARROW, FLAG_SPLIT_RANGE, FLAG_WEIGHTS_HASHED,
};
use crate::keygen::{ProvingKey, VerifyingKey};
use crate::prove::Proof;
use poa_circuits::{InputVisibility, Visibility, WeightVisibility};

/// halo2 serialization of key payloads. Measured (`cargo bench -p poa-benches`, 2 cores): pk load
/// RawBytes 3.2 ms vs Processed 4.4 ms (mlp_small, k=9, 2.1 MB) and 4.8 ms vs 9.7 ms (mlp_deep,
/// k=10, 4.2 MB), while Processed saved under 0.1% of the size: no point decompression and no
/// Montgomery conversion on load is worth more than 2 KB for a prover that loads a key per job.
pub const KEY_FORMAT: SerdeFormat = SerdeFormat::RawBytes;

/// The `format` field of proof JSON this build writes.
pub const PROOF_FORMAT: &str = "openpoa-proof-v2";

/// The previous proof JSON format (uncompressed points), still read.
pub const PROOF_FORMAT_V1: &str = "openpoa-proof-v1";

fn header(kind: Kind, id: &CircuitId, insecure: bool) -> Header {
    Header {
        kind,
        flags: if insecure { FLAG_INSECURE } else { 0 }
            | match id.visibility.input {
                InputVisibility::Public => 0,
                InputVisibility::Hashed => FLAG_INPUT_HASHED,
                InputVisibility::Private => FLAG_INPUT_PRIVATE,
            }
            | if id.attributed { FLAG_ATTRIBUTION } else { 0 }
            | if id.split_range { FLAG_SPLIT_RANGE } else { 0 }
            | match id.visibility.weights {
                WeightVisibility::Fixed => 0,
                WeightVisibility::Hashed => FLAG_WEIGHTS_HASHED,
            }
            | match id.layout {
                Layout::Wide => 0,
                Layout::Narrow => FLAG_NARROW,
                Layout::Dense => FLAG_DENSE,
            }
            | if id.dense_tables {
                FLAG_DENSE_TABLES
            } else {
                0
            },
        k: id.k,
        instances: id.instances as u32,
        model_digest: id.model_digest,
        circuit_digest: id.circuit_digest,
    }
}

fn id_of(h: &Header) -> Result<CircuitId> {
    let input = match (
        h.flags & FLAG_INPUT_HASHED != 0,
        h.flags & FLAG_INPUT_PRIVATE != 0,
    ) {
        (false, false) => InputVisibility::Public,
        (true, false) => InputVisibility::Hashed,
        (false, true) => InputVisibility::Private,
        (true, true) => {
            return Err(ProverError::Decode {
                what: h.kind.name(),
                reason: "header flags say the input is both hashed and private".into(),
            })
        }
    };
    let id = CircuitId {
        model_digest: h.model_digest,
        circuit_digest: h.circuit_digest,
        k: h.k,
        instances: h.instances as usize,
        visibility: Visibility {
            input,
            weights: if h.flags & FLAG_WEIGHTS_HASHED != 0 {
                WeightVisibility::Hashed
            } else {
                WeightVisibility::Fixed
            },
        },
        attributed: h.flags & FLAG_ATTRIBUTION != 0,
        split_range: h.flags & FLAG_SPLIT_RANGE != 0,
        dense_tables: h.flags & FLAG_DENSE_TABLES != 0,
        layout: match (h.flags & FLAG_NARROW != 0, h.flags & FLAG_DENSE != 0) {
            (false, false) => Layout::Wide,
            (true, false) => Layout::Narrow,
            (false, true) => Layout::Dense,
            (true, true) => {
                return Err(ProverError::Decode {
                    what: h.kind.name(),
                    reason: "header flags say the key is both narrow and dense".into(),
                })
            }
        },
    };
    if id.dense_tables && id.layout != Layout::Dense {
        return Err(ProverError::Decode {
            what: h.kind.name(),
            reason: "header flags give activation tables to a key that is not dense".into(),
        });
    }
    Ok(id)
}

/// A key's payload: halo2's bytes, after the shape for a narrow key.
fn seal_key(
    kind: Kind,
    id: &CircuitId,
    insecure: bool,
    shape: Option<&NarrowShape>,
    halo2: &[u8],
) -> Vec<u8> {
    let mut payload = Vec::with_capacity(halo2.len() + 256);
    if let Some(shape) = shape {
        let json = shape_json(shape);
        payload.extend_from_slice(&(json.len() as u64).to_le_bytes());
        payload.extend_from_slice(json.as_bytes());
    }
    payload.extend_from_slice(halo2);
    header(kind, id, insecure).seal(&payload)
}

/// The halo2 key a payload holds, read in the header's layout; the narrow shape with it.
fn open_key<K>(
    what: &'static str,
    id: &CircuitId,
    payload: &[u8],
    wide: impl FnOnce(&[u8]) -> std::io::Result<K>,
    dense: impl FnOnce(&[u8]) -> std::io::Result<K>,
    narrow: impl FnOnce(&[u8], &NarrowShape) -> std::io::Result<K>,
) -> Result<(K, Option<NarrowShape>)> {
    match id.layout {
        Layout::Wide => return Ok((decode_payload(what, || wide(payload))?, None)),
        Layout::Dense => return Ok((decode_payload(what, || dense(payload))?, None)),
        Layout::Narrow => {}
    }
    let bad = |reason: String| ProverError::Decode { what, reason };
    let len = payload
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
        .ok_or_else(|| bad("narrow key without its shape".into()))?;
    let json = usize::try_from(len)
        .ok()
        .and_then(|n| payload.get(8..8usize.checked_add(n)?))
        .ok_or_else(|| bad(format!("narrow shape of {len} bytes overruns the payload")))?;
    let (params, break_points) =
        serde_json::from_slice(json).map_err(|e| bad(format!("narrow shape: {e}")))?;
    let shape = NarrowShape {
        params,
        break_points,
    };
    let rest = &payload[8 + json.len()..];
    let key = decode_payload(what, || narrow(rest, &shape))?;
    Ok((key, Some(shape)))
}

/// The halo2 payload must describe the same `k` as the header.
fn check_vk_k(
    what: &'static str,
    h: &Header,
    vk: &halo2_proofs::plonk::VerifyingKey<G1Affine>,
) -> Result<()> {
    let found = vk.get_domain().k();
    if found != h.k {
        return Err(ProverError::KMismatch {
            what,
            expected: h.k,
            found,
        });
    }
    Ok(())
}

/// Runs halo2's key reader on a checksummed payload. The checksum passed, so only a
/// deliberately forged payload can make the reader panic; catch it anyway so a bad file is an
/// error, not a crash.
fn decode_payload<T>(what: &'static str, read: impl FnOnce() -> std::io::Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read))
        .map_err(|_| ProverError::Decode {
            what,
            reason: "halo2 reader panicked on the payload".into(),
        })?
        .map_err(|e| ProverError::Decode {
            what,
            reason: e.to_string(),
        })
}

impl ProvingKey {
    /// The pk file: header + halo2 payload.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let halo2 = self.pk.to_bytes(KEY_FORMAT);
        seal_key(
            Kind::ProvingKey,
            &self.id,
            self.insecure,
            self.shape.as_ref(),
            &halo2,
        )
    }

    /// Parses a pk file.
    pub fn from_file_bytes(bytes: &[u8]) -> Result<Self> {
        let what = Kind::ProvingKey.name();
        let (h, payload) = Header::open(Kind::ProvingKey, bytes)?;
        let id = id_of(&h)?;
        type Pk = halo2_proofs::plonk::ProvingKey<G1Affine>;
        let params = id.params();
        let dense_params = id.dense_params();
        let (pk, shape) = open_key(
            what,
            &id,
            payload,
            |p| Pk::from_bytes::<ModelCircuit>(p, KEY_FORMAT, params),
            |p| Pk::from_bytes::<DenseRows>(p, KEY_FORMAT, dense_params),
            |p, s| Pk::from_bytes::<BaseCircuitBuilder<Fr>>(p, KEY_FORMAT, s.params.clone()),
        )?;
        check_vk_k(what, &h, pk.get_vk())?;
        Ok(Self {
            pk,
            id,
            insecure: h.insecure(),
            shape,
        })
    }
}

impl VerifyingKey {
    /// The vk file: header + halo2 payload.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let halo2 = self.vk.to_bytes(KEY_FORMAT);
        seal_key(
            Kind::VerifyingKey,
            &self.id,
            self.insecure,
            self.shape.as_ref(),
            &halo2,
        )
    }

    /// Parses a vk file.
    pub fn from_file_bytes(bytes: &[u8]) -> Result<Self> {
        let what = Kind::VerifyingKey.name();
        let (h, payload) = Header::open(Kind::VerifyingKey, bytes)?;
        let id = id_of(&h)?;
        type Vk = halo2_proofs::plonk::VerifyingKey<G1Affine>;
        let params = id.params();
        let dense_params = id.dense_params();
        let (vk, shape) = open_key(
            what,
            &id,
            payload,
            |p| Vk::from_bytes::<ModelCircuit>(p, KEY_FORMAT, params),
            |p| Vk::from_bytes::<DenseRows>(p, KEY_FORMAT, dense_params),
            |p, s| Vk::from_bytes::<BaseCircuitBuilder<Fr>>(p, KEY_FORMAT, s.params.clone()),
        )?;
        check_vk_k(what, &h, &vk)?;
        Ok(Self {
            vk,
            id,
            insecure: h.insecure(),
            shape,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofJson {
    format: String,
    model_digest: String,
    circuit_digest: String,
    insecure_srs: bool,
    instances: Vec<String>,
    proof: String,
}

/// A field element as 0x-prefixed 32-byte big-endian hex.
pub fn fr_to_hex(f: &Fr) -> String {
    let mut be = f.to_repr();
    be.as_mut().reverse();
    format!("0x{}", hex::encode(be))
}

/// Parses [`fr_to_hex`]'s output; only canonical encodings (below the modulus) are accepted.
pub fn fr_from_hex(s: &str) -> Option<Fr> {
    let mut le = [0u8; 32];
    hex::decode_to_slice(s.strip_prefix("0x")?, &mut le).ok()?;
    le.reverse();
    Option::from(Fr::from_repr(le))
}

impl Proof {
    /// The proof as pretty JSON.
    pub fn to_json(&self) -> String {
        let j = ProofJson {
            format: PROOF_FORMAT.into(),
            model_digest: hex::encode(self.model_digest),
            circuit_digest: hex::encode(self.circuit_digest),
            insecure_srs: self.insecure_srs,
            instances: self.instances.iter().map(fr_to_hex).collect(),
            proof: format!("0x{}", hex::encode(self.compact())),
        };
        // A struct of strings and bools always serialises.
        serde_json::to_string_pretty(&j).unwrap_or_default()
    }

    /// Parses proof JSON, checking the format tag and every hex field.
    pub fn from_json(text: &str) -> Result<Self> {
        let j: ProofJson = serde_json::from_str(text).map_err(|e| ProverError::ProofFormat {
            reason: format!("not proof JSON: {e}"),
        })?;
        let compact = match j.format.as_str() {
            PROOF_FORMAT => true,
            PROOF_FORMAT_V1 => false,
            other => {
                return Err(ProverError::ProofFormat {
                    reason: format!(
                    "format `{other}`, this build reads `{PROOF_FORMAT}` and `{PROOF_FORMAT_V1}`"
                ),
                })
            }
        };
        let instances = j
            .instances
            .iter()
            .enumerate()
            .map(|(index, s)| {
                fr_from_hex(s).ok_or_else(|| ProverError::InvalidInstance {
                    index,
                    value: s.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let bytes = j
            .proof
            .strip_prefix("0x")
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| ProverError::ProofFormat {
                reason: "`proof` is not 0x-prefixed hex".into(),
            })?;
        let bytes = if compact {
            crate::codec::expand(&bytes)?
        } else {
            bytes
        };
        let proof = Self {
            model_digest: parse_digest("model_digest", &j.model_digest)?,
            circuit_digest: parse_digest("circuit_digest", &j.circuit_digest)?,
            insecure_srs: j.insecure_srs,
            instances,
            bytes,
        };
        if compact {
            proof.check_canonical(&j)?;
        }
        Ok(proof)
    }

    /// Refuses a current-format file whose hex fields are not exactly what [`Proof::to_json`]
    /// writes (upper-case digits, a missing `0x`): every proof has one encoding of each field,
    /// so a file hash or a stored copy names one proof.
    fn check_canonical(&self, j: &ProofJson) -> Result<()> {
        let bad = |field: &str| {
            Err(ProverError::ProofFormat {
                reason: format!("`{field}` is not in canonical form (lower-case hex as written)"),
            })
        };
        if j.model_digest != hex::encode(self.model_digest) {
            return bad("model_digest");
        }
        if j.circuit_digest != hex::encode(self.circuit_digest) {
            return bad("circuit_digest");
        }
        if let Some(i) =
            (0..j.instances.len()).find(|&i| j.instances[i] != fr_to_hex(&self.instances[i]))
        {
            return bad(&format!("instances[{i}]"));
        }
        if j.proof != format!("0x{}", hex::encode(self.compact())) {
            return bad("proof");
        }
        Ok(())
    }
}
