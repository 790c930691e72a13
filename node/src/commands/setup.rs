//! `poa setup`: SRS (ceremony file or insecure dev) → proving and verifying keys.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use poa_circuits::{AttributionSetup, CircuitStats, IndexVisibility, Layout, ModelCircuit};
use poa_prover::artifact::fr_to_hex;
use poa_prover::{
    dense_size_attributed, keygen_circuit, keygen_dense_attributed, keygen_narrow, narrow_size,
    DenseSize, NarrowSize, ProvingKey, Srs,
};
use poa_runtime::attribution::{AttributionIndex, DEFAULT_K};
use serde::Serialize;

use crate::artifacts::{
    ms_since, write_bytes, write_json, AttributionFile, Compiled, ATTRIBUTION_FILE,
    ATTRIBUTION_FORMAT, INSECURE_WARNING, PK_FILE, SRS_DEV_FILE, SRS_FILE, VK_FILE,
};
use crate::output::Output;

/// Arguments of `poa setup`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("srs_source").required(true).args(["srs", "dev_srs"])))]
pub struct Args {
    /// Compiled model folder (from `poa compile`); keys are written into it.
    pub dir: PathBuf,
    /// Ceremony SRS: a raw halo2 KZG params file (PSE/ezkl `kzg<k>.srs`), downsized to the
    /// circuit's k.
    #[arg(long)]
    pub srs: Option<PathBuf>,
    /// Generate an INSECURE SRS from a public seed (tests and demos only).
    #[arg(long)]
    pub dev_srs: bool,
    /// Attribution index (from `poa datanet index`): the keys then prove inference and top-k
    /// attribution over it (the index is fixed into the circuit and copied into the folder).
    #[arg(long)]
    pub index: Option<PathBuf>,
    /// Entries a proof attributes to (with `--index`).
    #[arg(long, default_value_t = DEFAULT_K, requires = "index")]
    pub top_k: usize,
    /// `fixed`: the index is part of the verifying key (fastest); `hashed`: the circuit hashes
    /// the index and publishes its root, so the keys prove over any index of the same shape
    /// (entries, dimension, bound) — e.g. every sealed version of a datanet of that size.
    #[arg(long, default_value_t = IndexVisibility::Fixed, requires = "index")]
    pub index_visibility: IndexVisibility,
    /// `dense` (default): five lanes with the weights as gate coefficients — every runtime op,
    /// public, private or hashed input, a fixed attribution index; small proofs and a verifier
    /// that deploys. `wide`: 16 MAC lanes a row — what a hashed index or hashed weights need
    /// today (its verifier is over EIP-170's 24 KB). `narrow`: one advice column — the smallest
    /// proof, several times the proving time (fixed weights, public or private input, fixed
    /// index, Gemm/Conv/Relu/Add/rescale models).
    #[arg(long, default_value_t = Layout::Dense)]
    pub layout: Layout,
    /// Narrow layout only: prove in 2^K rows instead of the one-column size; below it the cells
    /// spread over more advice columns — faster proving, ~300 bytes more proof and a larger
    /// verifier per column (e.g. mlp_small: k 14 → 13 is 1.5× faster, 1,376 → 1,984 bytes).
    #[arg(long, value_name = "K")]
    pub narrow_k: Option<u32>,
}

/// Where the SRS comes from.
pub enum SrsSource<'a> {
    /// A ceremony file.
    Ceremony(&'a Path),
    /// The insecure dev SRS.
    Dev,
}

/// What `poa setup` did.
#[derive(Serialize)]
pub struct SetupResult {
    /// `wide` or `narrow`.
    pub layout: String,
    /// Circuit size.
    pub stats: Stats,
    /// Whether the keys come from the insecure dev SRS.
    pub insecure_srs: bool,
    /// SRS file written.
    pub srs_file: PathBuf,
    /// Milliseconds to generate or load (and downsize) the SRS.
    pub srs_ms: f64,
    /// Milliseconds of keygen (vk + pk).
    pub keygen_ms: f64,
    /// Bytes of pk.bin.
    pub pk_bytes: usize,
    /// Bytes of vk.bin.
    pub vk_bytes: usize,
    /// The attribution the keys prove, when set up with an index.
    pub attribution: Option<AttributionInfo>,
}

/// What an attribution setup fixed into the circuit.
#[derive(Serialize)]
pub struct AttributionInfo {
    /// Datanet and sealed version indexed.
    pub datanet: String,
    /// Version.
    pub version: u32,
    /// Entries in the index.
    pub entries: usize,
    /// Embedding dimension.
    pub dim: usize,
    /// Entries a proof publishes.
    pub k: usize,
    /// `fixed` or `hashed`.
    pub index_visibility: String,
    /// Index root (public in every proof), 0x-hex.
    pub index_root: String,
}

/// [`CircuitStats`] as JSON.
#[derive(Serialize)]
pub struct Stats {
    k: u32,
    rows: usize,
    advice_columns: usize,
    fixed_columns: usize,
    selectors: usize,
    lookups: usize,
    macs: usize,
    instances: usize,
}

impl Stats {
    /// A narrow circuit: rows a gate column holds (its advice cells, with one column), the
    /// columns as halo2 counts them.
    fn narrow(s: &NarrowSize, macs: usize) -> Self {
        Self {
            k: s.k,
            rows: s.rows,
            advice_columns: s.columns.advice,
            fixed_columns: s.columns.fixed,
            selectors: s.columns.selectors,
            lookups: s.columns.lookups,
            macs,
            instances: s.instances,
        }
    }
}

impl Stats {
    /// A dense circuit: its rows (one equation each) and the fixed column set of
    /// [`poa_circuits::dense`] (lanes, accumulator and limb; coefficients and table).
    fn dense(s: &DenseSize, macs: usize) -> Self {
        Self {
            k: s.k,
            rows: s.rows,
            advice_columns: s.advice_columns,
            fixed_columns: s.fixed_columns,
            selectors: 0,
            lookups: s.lookups,
            macs,
            instances: s.instances,
        }
    }
}

impl From<&CircuitStats> for Stats {
    fn from(s: &CircuitStats) -> Self {
        Self {
            k: s.k,
            rows: s.rows,
            advice_columns: s.advice_columns,
            fixed_columns: s.fixed_columns,
            selectors: s.selectors,
            lookups: s.lookups,
            macs: s.macs,
            instances: s.instances,
        }
    }
}

/// Runs `poa setup`.
pub fn run(args: &Args, out: &Output) -> anyhow::Result<()> {
    let source = match &args.srs {
        Some(p) => SrsSource::Ceremony(p),
        None => SrsSource::Dev,
    };
    let index = match &args.index {
        Some(path) => Some((read_index(path)?, args.top_k, args.index_visibility)),
        None => None,
    };
    let r = setup(&args.dir, source, index, args.layout, args.narrow_k, out)?;
    out.result(&r, || text(&r))
}

/// The human summary of a setup.
pub fn text(r: &SetupResult) -> String {
    let s = &r.stats;
    let attribution = r.attribution.as_ref().map_or(String::new(), |a| {
        format!(
            "\nattribution: top-{} over {} v{} ({} entries × {} dims, {} index), index root {}",
            a.k, a.datanet, a.version, a.entries, a.dim, a.index_visibility, a.index_root
        )
    });
    format!(
        "{} circuit: k={} ({} rows), {} advice + {} fixed columns, {} selectors, {} lookups, {} MACs, {} public instances\n\
         srs {} ({:.0} ms{}), keygen {:.0} ms → pk.bin {} KiB, vk.bin {} bytes{attribution}",
        r.layout, s.k, s.rows, s.advice_columns, s.fixed_columns, s.selectors, s.lookups, s.macs, s.instances,
        r.srs_file.display(), r.srs_ms, if r.insecure_srs { ", INSECURE dev SRS" } else { "" },
        r.keygen_ms, r.pk_bytes / 1024, r.vk_bytes
    )
}

/// Reads an attribution index file.
pub fn read_index(path: &Path) -> anyhow::Result<AttributionIndex> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing index {}", path.display()))
}

/// Loads or generates the SRS, runs keygen and writes srs/pk/vk into `dir` — for inference, or
/// with `index = Some((index, k, visibility))` for inference plus top-k attribution over it — in
/// the `layout` asked for (narrow: in `2^narrow_k` rows, or its one-column size).
pub fn setup(
    dir: &Path,
    source: SrsSource<'_>,
    index: Option<(AttributionIndex, usize, IndexVisibility)>,
    layout: Layout,
    narrow_k: Option<u32>,
    out: &Output,
) -> anyhow::Result<SetupResult> {
    // Every caller's check, not only the CLI's: a k for the wide layout would be ignored.
    if narrow_k.is_some() && layout != Layout::Narrow {
        anyhow::bail!("--narrow-k sizes the narrow layout; add --layout narrow");
    }
    let compiled = Compiled::load(dir)?;
    let q = &compiled.qmodel;
    let vis = compiled.settings.visibility()?;
    let mut circuit =
        ModelCircuit::new(q, None, vis).context("the circuit cannot lay out this model")?;
    let mut attribution = None;
    if let Some((index, k, index_visibility)) = index {
        let file = AttributionFile {
            format: ATTRIBUTION_FORMAT,
            k,
            index_visibility: index_visibility.to_string(),
            index_root: String::new(),
            index,
        };
        let setup = AttributionSetup::new(
            q,
            std::sync::Arc::new(file.index.clone()),
            k,
            index_visibility,
        )
        .context("the index cannot be attributed over with this model")?;
        attribution = Some((file, setup.clone()));
        circuit = circuit.with_attribution(setup, None)?;
    }
    let stats = match layout {
        Layout::Wide => Stats::from(&circuit.stats()),
        Layout::Narrow => {
            let setup = attribution.as_ref().map(|(_, s)| s);
            let size = narrow_size(q, vis, setup, narrow_k)
                .context("the narrow layout cannot take this setup")?;
            Stats::narrow(&size, q.macs())
        }
        Layout::Dense => {
            let setup = attribution.as_ref().map(|(_, s)| s);
            let size = dense_size_attributed(q, vis, setup)
                .context("the dense layout cannot take this setup")?;
            Stats::dense(&size, q.macs())
        }
    };
    let t = Instant::now();
    let spinner = out.spinner("preparing SRS");
    let (srs, name, stale) = match source {
        SrsSource::Dev => (Srs::dev(stats.k), SRS_DEV_FILE, SRS_FILE),
        SrsSource::Ceremony(path) => {
            let big = Srs::load_ceremony(path)
                .with_context(|| format!("loading ceremony SRS {}", path.display()))?;
            (big.downsize(stats.k)?, SRS_FILE, SRS_DEV_FILE)
        }
    };
    spinner.finish_and_clear();
    let srs_ms = ms_since(t);
    if srs.is_insecure() {
        out.warn(INSECURE_WARNING);
    }
    let t = Instant::now();
    let spinner = out.spinner("generating keys");
    let pk: ProvingKey = match layout {
        Layout::Wide => keygen_circuit(&circuit, &srs)?,
        Layout::Narrow => {
            keygen_narrow(&srs, q, vis, attribution.as_ref().map(|(_, s)| s), narrow_k)?
        }
        Layout::Dense => {
            keygen_dense_attributed(&srs, q, vis, attribution.as_ref().map(|(_, s)| s))?
        }
    };
    spinner.finish_and_clear();
    let keygen_ms = ms_since(t);
    let (pk_bytes, vk_bytes) = (pk.to_file_bytes(), pk.verifying_key().to_file_bytes());
    let srs_file = dir.join(name);
    write_bytes(&srs_file, &srs.to_file_bytes())?;
    // One SRS per folder: a key set never pairs with a leftover SRS of the other kind.
    let stale = dir.join(stale);
    if stale.exists() {
        std::fs::remove_file(&stale).with_context(|| format!("removing {}", stale.display()))?;
    }
    write_bytes(&dir.join(PK_FILE), &pk_bytes)?;
    write_bytes(&dir.join(VK_FILE), &vk_bytes)?;
    // The attribution file says which index the keys fix; an inference-only setup removes a
    // stale one so `poa prove` never pairs keys with the wrong index.
    let attribution_path = dir.join(ATTRIBUTION_FILE);
    let info = match attribution {
        Some((mut file, setup)) => {
            file.index_root = fr_to_hex(&setup.root());
            write_json(&attribution_path, &file)?;
            Some(AttributionInfo {
                datanet: file.index.datanet.clone(),
                version: file.index.version,
                entries: file.index.entries.len(),
                dim: file.index.dim(),
                k: file.k,
                index_visibility: file.index_visibility.clone(),
                index_root: file.index_root,
            })
        }
        None => {
            if attribution_path.exists() {
                std::fs::remove_file(&attribution_path)
                    .with_context(|| format!("removing {}", attribution_path.display()))?;
            }
            None
        }
    };
    Ok(SetupResult {
        layout: layout.to_string(),
        stats,
        insecure_srs: srs.is_insecure(),
        srs_file,
        srs_ms,
        keygen_ms,
        pk_bytes: pk_bytes.len(),
        vk_bytes: vk_bytes.len(),
        attribution: info,
    })
}
