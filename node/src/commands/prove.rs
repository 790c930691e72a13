//! `poa prove`: run the model on an input and prove the inference; the proof is verified
//! natively before it is written, so a proof file on disk always verifies.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
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
        "proved output {:?} in {:.0} ms (load {:.0} ms, native check {:.0} ms): {} bytes, {} public instances → {}{}",
        r.output_q,
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
        insecure_srs: proof.insecure_srs,
    })
}
