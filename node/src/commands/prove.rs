//! `poa prove`: run the model on an input and prove the inference; the proof is verified
//! natively before it is written, so a proof file on disk always verifies.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use poa_circuits::InstanceLayout;
use poa_prover::artifact::fr_to_hex;
use poa_prover::{prove, verify, ProvingKey};
use poa_runtime::{parse_inputs, tensor::numel};
use serde::Serialize;

use crate::artifacts::{
    load_srs, ms_since, read_setup_file, write_bytes, Compiled, INSECURE_WARNING, PK_FILE,
};
use crate::output::Output;

/// Arguments of `poa prove`.
#[derive(clap::Args)]
pub struct Args {
    /// Model folder after `poa setup` (qmodel.json, SRS, pk.bin).
    pub dir: PathBuf,
    /// Input file (`{"inputs": [[…]]}` or ezkl's `{"input_data": [[…]]}`); the first sample is proven.
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the proof JSON.
    #[arg(long)]
    pub out: PathBuf,
}

/// What `poa prove` did.
#[derive(Serialize)]
pub struct ProveResult {
    /// Proof file written.
    pub proof_file: PathBuf,
    /// Raw integer output (public).
    pub output_q: Vec<i64>,
    /// Milliseconds loading SRS and pk.
    pub load_ms: f64,
    /// Milliseconds of proving.
    pub prove_ms: f64,
    /// Milliseconds of the native check before writing.
    pub verify_ms: f64,
    /// Proof size in bytes.
    pub proof_bytes: usize,
    /// Public instance count.
    pub instances: usize,
    /// Input visibility of the circuit (`public`, `hashed`, `private`).
    pub input_visibility: String,
    /// The public Poseidon commitment to the input (`hashed` inputs), 0x-hex big-endian.
    pub input_commitment: Option<String>,
    /// Whether the keys come from the insecure dev SRS.
    pub insecure_srs: bool,
}

/// Runs `poa prove`.
pub fn run(args: &Args, out: &Output) -> anyhow::Result<()> {
    let r = prove_file(&args.dir, &args.input, &args.out, out)?;
    out.result(&r, || text(&r))
}

/// The human summary of a proof.
pub fn text(r: &ProveResult) -> String {
    format!(
        "proved output {:?} with {} input{} in {:.0} ms (load {:.0} ms, native check {:.0} ms): {} bytes, {} public instances → {}{}",
        r.output_q,
        r.input_visibility,
        r.input_commitment
            .as_ref()
            .map_or(String::new(), |c| format!(" (commitment {c})")),
        r.prove_ms,
        r.load_ms,
        r.verify_ms,
        r.proof_bytes,
        r.instances,
        r.proof_file.display(),
        if r.insecure_srs { " (INSECURE dev SRS)" } else { "" }
    )
}

/// Proves the first sample of `input` with the keys in `dir` and writes the proof to `dest`.
pub fn prove_file(
    dir: &Path,
    input: &Path,
    dest: &Path,
    out: &Output,
) -> anyhow::Result<ProveResult> {
    let compiled = Compiled::load(dir)?;
    let q = &compiled.qmodel;
    let text =
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?;
    let samples = parse_inputs(&text, numel(&q.input().shape))
        .with_context(|| format!("parsing {}", input.display()))?;
    let trace = q.run(&samples[0]).context("running sample 0")?;

    let t = Instant::now();
    let srs = load_srs(dir)?;
    let pk = ProvingKey::from_file_bytes(&read_setup_file(dir, PK_FILE)?)
        .with_context(|| format!("loading {}", dir.join(PK_FILE).display()))?;
    let load_ms = ms_since(t);
    let vis = pk.id().visibility;
    if pk.is_insecure() {
        out.warn(INSECURE_WARNING);
    }

    let t = Instant::now();
    let spinner = out.spinner("proving");
    let proof = prove(&srs, &pk, q, &trace)?;
    spinner.finish_and_clear();
    let prove_ms = ms_since(t);

    let t = Instant::now();
    verify(&srs, &pk.verifying_key(), &proof)
        .context("the fresh proof failed native verification; nothing written")?;
    let verify_ms = ms_since(t);
    write_bytes(dest, proof.to_json().as_bytes())?;
    Ok(ProveResult {
        proof_file: dest.to_path_buf(),
        output_q: trace.output().data.clone(),
        load_ms,
        prove_ms,
        verify_ms,
        proof_bytes: proof.bytes.len(),
        instances: proof.instances.len(),
        input_visibility: vis.input.to_string(),
        input_commitment: InstanceLayout::of(q, &vis)
            .input_commitment
            .map(|row| fr_to_hex(&proof.instances[row])),
        insecure_srs: proof.insecure_srs,
    })
}
