//! `poa prove`: run the model on an input and prove the inference; the proof is verified
//! natively before it is written, so a proof file on disk always verifies.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use poa_circuits::{Fr, InstanceLayout, Request};
use poa_prover::artifact::fr_to_hex;
use poa_prover::{prove, prove_attributed, verify, ProvingKey};
use poa_runtime::datanet::Address;
use poa_runtime::{parse_inputs, tensor::numel};
use serde::Serialize;

use crate::artifacts::{
    load_attribution, load_srs, ms_since, read_setup_file, write_bytes, Compiled, ATTRIBUTION_FILE,
    INSECURE_WARNING, PK_FILE,
};
use crate::output::Output;
use crate::proven::{parse_nonce, ProvenAttribution};

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
    /// Request nonce the proof answers (attribution keys): decimal, or 0x-hex below the BN254
    /// scalar modulus.
    #[arg(long, value_parser = parse_nonce)]
    pub nonce: Option<Fr>,
    /// Address paid for proving (attribution keys); bound into the proof, so a copied proof
    /// still pays this address.
    #[arg(long)]
    pub prover: Option<Address>,
    /// Prove over this index instead of the one `poa setup --index` stored (hashed-index keys:
    /// any index of the same shape, e.g. a later sealed version; fixed-index keys: only the same
    /// index).
    #[arg(long, requires = "nonce")]
    pub index: Option<PathBuf>,
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
    /// The attribution the proof publishes (attribution keys).
    pub attribution: Option<ProvenAttribution>,
}

/// Runs `poa prove`.
pub fn run(args: &Args, out: &Output) -> anyhow::Result<()> {
    let request = match (args.nonce, args.prover) {
        (Some(nonce), Some(prover)) => Some(Request { nonce, prover }),
        (None, None) => None,
        _ => anyhow::bail!("--nonce and --prover go together"),
    };
    let index = args
        .index
        .as_deref()
        .map(super::setup::read_index)
        .transpose()?;
    let r = prove_file(&args.dir, &args.input, &args.out, request, index, out)?;
    out.result(&r, || text(&r))
}

/// The human summary of a proof.
pub fn text(r: &ProveResult) -> String {
    let attribution = r.attribution.as_ref().map_or(String::new(), |a| {
        format!("\n      attribution: {}", a.text())
    });
    format!(
        "proved output {:?} with {} input{} in {:.0} ms (load {:.0} ms, native check {:.0} ms): {} bytes, {} public instances → {}{}{attribution}",
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
/// Attribution keys (`poa setup --index`) need the `request` the proof answers; inference keys
/// refuse one.
pub fn prove_file(
    dir: &Path,
    input: &Path,
    dest: &Path,
    request: Option<Request>,
    index: Option<poa_runtime::attribution::AttributionIndex>,
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
    let attribution = load_attribution(dir, q, index)?;
    let layout = match &attribution {
        Some(a) if pk.id().attributed => InstanceLayout::attributed(q, &vis, a.k()),
        _ => InstanceLayout::of(q, &vis),
    };
    let proof = match (pk.id().attributed, attribution, request) {
        (true, Some(setup), Some(request)) => {
            prove_attributed(&srs, &pk, q, &trace, setup, request)?
        }
        (true, None, _) => anyhow::bail!(
            "{} has attribution keys but no {ATTRIBUTION_FILE}; rerun `poa setup --index`",
            dir.display()
        ),
        (true, Some(_), None) => anyhow::bail!(
            "the keys in {} prove attribution: pass --nonce and --prover",
            dir.display()
        ),
        (false, _, Some(_)) => anyhow::bail!(
            "the keys in {} prove inference only: --nonce/--prover need `poa setup --index`",
            dir.display()
        ),
        (false, _, None) => prove(&srs, &pk, q, &trace)?,
    };
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
        input_commitment: layout
            .input_commitment
            .map(|row| fr_to_hex(&proof.instances[row])),
        insecure_srs: proof.insecure_srs,
        attribution: layout
            .attribution
            .map(|a| ProvenAttribution::decode(&proof.instances, a.k))
            .transpose()?,
    })
}
