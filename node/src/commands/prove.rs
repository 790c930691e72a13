//! `poa prove`: run the model on an input and prove the inference; the proof is verified
//! natively before it is written, so a proof file on disk always verifies.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use poa_circuits::{AttributionSetup, Fr, InstanceLayout, Request};
use poa_prover::artifact::fr_to_hex;
use poa_prover::{prove, prove_attributed, verify, Proof, ProvingKey, Srs};
use poa_runtime::attribution::AttributionIndex;
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
    /// Proof size in bytes as the proof file carries it (points compressed).
    pub proof_bytes: usize,
    /// Proof size as the EVM verifier's calldata takes it (points uncompressed).
    pub evm_proof_bytes: usize,
    /// Public instance count.
    pub instances: usize,
    /// Input visibility of the circuit (`public`, `hashed`, `private`).
    pub input_visibility: String,
    /// The public Poseidon commitment to the input (`hashed` inputs), 0x-hex big-endian.
    pub input_commitment: Option<String>,
    /// The public Poseidon commitment to the weights (`hashed` weights), 0x-hex big-endian.
    pub weights_commitment: Option<String>,
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
        "proved output {:?} with {} input{}{} in {:.0} ms (load {:.0} ms, native check {:.0} ms): {} bytes ({} as EVM calldata), {} public instances → {}{}{attribution}",
        r.output_q,
        r.input_visibility,
        r.input_commitment
            .as_ref()
            .map_or(String::new(), |c| format!(" (commitment {c})")),
        r.weights_commitment
            .as_ref()
            .map_or(String::new(), |c| format!(" and hashed weights {c}")),
        r.prove_ms,
        r.load_ms,
        r.verify_ms,
        r.proof_bytes,
        r.evm_proof_bytes,
        r.instances,
        r.proof_file.display(),
        if r.insecure_srs { " (INSECURE dev SRS)" } else { "" }
    )
}

/// A model folder's keys and circuit inputs loaded into memory once: what `poa prove` loads per
/// run and what a prover node keeps per model (loading the pk dominates small proofs).
pub struct LoadedKeys {
    /// The model folder.
    pub dir: PathBuf,
    /// Its compiled model.
    pub compiled: Compiled,
    /// The SRS `poa setup` left there.
    pub srs: Srs,
    /// The proving key.
    pub pk: ProvingKey,
    /// The attribution setup (attribution keys), re-checked against the model.
    pub attribution: Option<AttributionSetup>,
    /// Milliseconds loading SRS and pk.
    pub load_ms: f64,
}

impl LoadedKeys {
    /// Loads `dir`'s model, SRS, pk and attribution setup (`index` replaces the stored index:
    /// see [`load_attribution`]).
    pub fn load(dir: &Path, index: Option<AttributionIndex>) -> anyhow::Result<Self> {
        let compiled = Compiled::load(dir)?;
        let t = Instant::now();
        let srs = load_srs(dir)?;
        let pk = ProvingKey::from_file_bytes(&read_setup_file(dir, PK_FILE)?)
            .with_context(|| format!("loading {}", dir.join(PK_FILE).display()))?;
        let load_ms = ms_since(t);
        let attribution = load_attribution(dir, &compiled.qmodel, index)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            compiled,
            srs,
            pk,
            attribution,
            load_ms,
        })
    }

    /// Values per input sample.
    pub fn input_len(&self) -> usize {
        numel(&self.compiled.qmodel.input().shape)
    }
}

/// A natively verified proof and what it publishes.
pub struct Proven {
    /// The proof (verified against the pk's verifying key).
    pub proof: Proof,
    /// Raw integer output (public).
    pub output_q: Vec<i64>,
    /// Milliseconds of proving.
    pub prove_ms: f64,
    /// Milliseconds of the native check.
    pub verify_ms: f64,
    /// The public Poseidon commitment to the input (`hashed` inputs), 0x-hex big-endian.
    pub input_commitment: Option<String>,
    /// The public Poseidon commitment to the weights (`hashed` weights), 0x-hex big-endian.
    pub weights_commitment: Option<String>,
    /// The attribution the proof publishes (attribution keys).
    pub attribution: Option<ProvenAttribution>,
}

/// Runs the model on `sample`, proves it with `keys` and verifies the proof natively. Attribution
/// keys need the `request` the proof answers; inference keys refuse one.
pub fn prove_sample(
    keys: &LoadedKeys,
    sample: &[f32],
    request: Option<Request>,
) -> anyhow::Result<Proven> {
    let (dir, q, pk) = (&keys.dir, &keys.compiled.qmodel, &keys.pk);
    let trace = q.run(sample).context("running the sample")?;
    let vis = pk.id().visibility;
    let t = Instant::now();
    let layout = match &keys.attribution {
        Some(a) if pk.id().attributed => InstanceLayout::attributed(q, &vis, a.k()),
        _ => InstanceLayout::of(q, &vis),
    };
    let proof = match (pk.id().attributed, &keys.attribution, request) {
        (true, Some(setup), Some(request)) => {
            prove_attributed(&keys.srs, pk, q, &trace, setup.clone(), request)?
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
        (false, _, None) => prove(&keys.srs, pk, q, &trace)?,
    };
    let prove_ms = ms_since(t);
    let t = Instant::now();
    verify(&keys.srs, &pk.verifying_key(), &proof)
        .context("the fresh proof failed native verification; nothing written")?;
    let verify_ms = ms_since(t);
    Ok(Proven {
        output_q: trace.output().data.clone(),
        prove_ms,
        verify_ms,
        input_commitment: layout
            .input_commitment
            .map(|row| fr_to_hex(&proof.instances[row])),
        weights_commitment: layout
            .weights_commitment
            .map(|row| fr_to_hex(&proof.instances[row])),
        attribution: layout
            .attribution
            .map(|a| ProvenAttribution::decode(&proof.instances, a.k))
            .transpose()?,
        proof,
    })
}

/// Proves the first sample of `input` with the keys in `dir` and writes the proof to `dest`.
/// Attribution keys (`poa setup --index`) need the `request` the proof answers; inference keys
/// refuse one.
pub fn prove_file(
    dir: &Path,
    input: &Path,
    dest: &Path,
    request: Option<Request>,
    index: Option<AttributionIndex>,
    out: &Output,
) -> anyhow::Result<ProveResult> {
    let keys = LoadedKeys::load(dir, index)?;
    let text =
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?;
    let samples = parse_inputs(&text, keys.input_len())
        .with_context(|| format!("parsing {}", input.display()))?;
    if keys.pk.is_insecure() {
        out.warn(INSECURE_WARNING);
    }
    let spinner = out.spinner("proving");
    let p = prove_sample(&keys, &samples[0], request)?;
    spinner.finish_and_clear();
    write_bytes(dest, p.proof.to_json().as_bytes())?;
    Ok(ProveResult {
        proof_file: dest.to_path_buf(),
        output_q: p.output_q,
        load_ms: keys.load_ms,
        prove_ms: p.prove_ms,
        verify_ms: p.verify_ms,
        proof_bytes: p.proof.compact().len(),
        evm_proof_bytes: p.proof.bytes.len(),
        instances: p.proof.instances.len(),
        input_visibility: keys.pk.id().visibility.input.to_string(),
        input_commitment: p.input_commitment,
        weights_commitment: p.weights_commitment,
        insecure_srs: p.proof.insecure_srs,
        attribution: p.attribution,
    })
}
