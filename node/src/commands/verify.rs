//! `poa verify`: check a proof JSON against the verifying key in a model folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use poa_circuits::InstanceLayout;
use poa_prover::{verify, Proof, VerifyingKey};
use serde::Serialize;

use crate::artifacts::{
    load_attribution, load_srs, ms_since, read_setup_file, Compiled, INSECURE_WARNING, VK_FILE,
};
use crate::output::Output;
use crate::proven::ProvenAttribution;
use poa_prover::artifact::fr_to_hex;

/// Arguments of `poa verify`.
#[derive(clap::Args)]
pub struct Args {
    /// Model folder after `poa setup` (SRS, vk.bin).
    pub dir: PathBuf,
    /// Proof JSON from `poa prove`.
    pub proof: PathBuf,
}

/// A successful verification (failures are errors, exit code 1).
#[derive(Serialize)]
pub struct VerifyResult {
    /// Always true (a failed check is an error).
    pub valid: bool,
    /// Model digest the proof is about.
    pub model_digest: String,
    /// Public instance count.
    pub instances: usize,
    /// Whether the keys come from the insecure dev SRS.
    pub insecure_srs: bool,
    /// The public Poseidon commitment to the weights (`hashed` weights), 0x-hex big-endian:
    /// which of the models sharing these keys the proof is about.
    pub weights_commitment: Option<String>,
    /// Milliseconds of verification (excluding file loading).
    pub verify_ms: f64,
    /// The attribution the proof publishes (attribution keys).
    pub attribution: Option<ProvenAttribution>,
}

/// Runs `poa verify`.
pub fn run(args: &Args, out: &Output) -> anyhow::Result<()> {
    let r = verify_file(&args.dir, &args.proof, out)?;
    out.result(&r, || text(&r))
}

/// The human summary.
pub fn text(r: &VerifyResult) -> String {
    let attribution = r.attribution.as_ref().map_or(String::new(), |a| {
        format!("\n      attribution: {}", a.text())
    });
    format!(
        "OK: proof verifies for model {}{} ({} public instances, {:.1} ms){}{attribution}",
        &r.model_digest[..16],
        r.weights_commitment
            .as_ref()
            .map_or(String::new(), |c| format!(" with hashed weights {c}")),
        r.instances,
        r.verify_ms,
        if r.insecure_srs {
            " — INSECURE dev SRS"
        } else {
            ""
        }
    )
}

/// Verifies `proof_path` against `dir`'s verifying key.
pub fn verify_file(dir: &Path, proof_path: &Path, out: &Output) -> anyhow::Result<VerifyResult> {
    let srs = load_srs(dir)?;
    let vk = VerifyingKey::from_file_bytes(&read_setup_file(dir, VK_FILE)?)
        .with_context(|| format!("loading {}", dir.join(VK_FILE).display()))?;
    let text = std::fs::read_to_string(proof_path)
        .with_context(|| format!("reading {}", proof_path.display()))?;
    let proof =
        Proof::from_json(&text).with_context(|| format!("parsing {}", proof_path.display()))?;
    if vk.is_insecure() {
        out.warn(INSECURE_WARNING);
    }
    let t = Instant::now();
    verify(&srs, &vk, &proof).with_context(|| format!("verifying {}", proof_path.display()))?;
    let verify_ms = ms_since(t);
    let attribution = if vk.id().attributed {
        let q = Compiled::load(dir)?.qmodel;
        let k = load_attribution(dir, &q, None)?
            .with_context(|| {
                format!(
                    "{} has attribution keys but no attribution setup",
                    dir.display()
                )
            })?
            .k();
        Some(ProvenAttribution::decode(&proof.instances, k)?)
    } else {
        None
    };
    Ok(VerifyResult {
        valid: true,
        model_digest: hex::encode(proof.model_digest),
        instances: proof.instances.len(),
        insecure_srs: proof.insecure_srs,
        weights_commitment: InstanceLayout::weights_commitment_row(
            &vk.id().visibility,
            vk.id().attributed,
        )
        .and_then(|row| proof.instances.get(row))
        .map(fr_to_hex),
        verify_ms,
        attribution,
    })
}
