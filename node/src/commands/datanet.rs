//! `poa datanet`: create datanets, add and import contributions, seal versions under a Poseidon
//! Merkle root, and show what a datanet holds.
//!
//! The store is a folder of JSON files ([`FileStore`]): `--store <dir>`, else `$POA_STORE`, else
//! `.poa/datanets` under the current directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use poa_circuits::commit::{datanet_root, index_root};
use poa_runtime::datanet::{
    import, Address, Datanet, DatanetFile, DatanetId, DatanetSpec, DatanetStore, EntryRef,
    FileStore, NewContribution, Root, SealedVersion, SpecSource, Version,
};
use serde::Serialize;

use crate::artifacts::{write_json, Compiled};
use crate::output::Output;
use poa_runtime::attribution::build_index;

/// The store folder when neither `--store` nor `POA_STORE` is given.
pub const DEFAULT_STORE: &str = ".poa/datanets";

/// Arguments of `poa datanet`.
#[derive(clap::Args)]
pub struct Args {
    /// Datanet store folder [default: $POA_STORE, else .poa/datanets].
    #[arg(long, global = true)]
    pub store: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Cmd,
}

/// The `poa datanet` subcommands.
#[derive(Subcommand)]
pub enum Cmd {
    /// Create a datanet (version 1 open); prints its id, derived from the name.
    Create(CreateArgs),
    /// Add one contribution to the open version (validated, rejected if a duplicate).
    Add(AddArgs),
    /// Add every valid entry of a datanet file; rejected entries are listed with their reasons.
    Import(ImportArgs),
    /// Seal the open version under the Poseidon Merkle root of its entries and open the next.
    Seal(SealArgs),
    /// Show a datanet: versions, seals and roots, contributions per contributor.
    Show(ShowArgs),
    /// List the datanets in the store.
    List,
    /// Build the attribution index of a sealed version for a compiled model (embedding of every entry).
    Index(IndexArgs),
}

/// Arguments of `poa datanet index`.
#[derive(clap::Args)]
pub struct IndexArgs {
    /// Compiled model folder (from `poa compile`).
    pub model_dir: PathBuf,
    /// Datanet id.
    pub id: String,
    /// The sealed version to index.
    #[arg(long)]
    pub version: u32,
    /// Where to write the index [default: <model-dir>/index_<datanet>_v<version>.json].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Arguments of `poa datanet create`.
#[derive(clap::Args)]
pub struct CreateArgs {
    /// Display name.
    pub name: String,
    /// Curator address (0x + 40 hex digits).
    #[arg(long)]
    pub curator: String,
    /// Values per sample (the model's input length).
    #[arg(long)]
    pub input_len: usize,
    /// Number of classes (labels 0..classes).
    #[arg(long)]
    pub classes: u32,
}

/// Arguments of `poa datanet add`.
#[derive(clap::Args)]
pub struct AddArgs {
    /// Datanet id.
    pub id: String,
    /// Contributor address (0x + 40 hex digits).
    #[arg(long)]
    pub contributor: String,
    /// The sample: a JSON array of numbers, or a file holding one.
    #[arg(long)]
    pub sample: String,
    /// The label (class index).
    #[arg(long)]
    pub label: u32,
    /// Version to add to; must be the open one (default: the open one).
    #[arg(long)]
    pub version: Option<u32>,
}

/// Arguments of `poa datanet import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// Datanet file (`{name, curator, contributors, entries: [{contributor, sample, label}]}`).
    pub file: PathBuf,
    /// Import into this datanet (default: create one from the file's name and curator).
    #[arg(long)]
    pub id: Option<String>,
    /// Values per sample when creating (default: the file's `input_shape`, else the first entry's length).
    #[arg(long, conflicts_with = "id")]
    pub input_len: Option<usize>,
    /// Number of classes when creating (default: the file's `classes`, else the largest label + 1).
    #[arg(long, conflicts_with = "id")]
    pub classes: Option<u32>,
}

/// Arguments of `poa datanet seal`.
#[derive(clap::Args)]
pub struct SealArgs {
    /// Datanet id.
    pub id: String,
}

/// Arguments of `poa datanet show`.
#[derive(clap::Args)]
pub struct ShowArgs {
    /// Datanet id.
    pub id: String,
    /// Show only this version.
    #[arg(long)]
    pub version: Option<u32>,
}

/// Runs `poa datanet …`.
pub fn run(args: &Args, out: &Output) -> anyhow::Result<()> {
    let mut store = FileStore::new(store_dir(args.store.as_deref()));
    match &args.command {
        Cmd::Create(a) => create(&mut store, a, out),
        Cmd::Add(a) => add(&mut store, a, out),
        Cmd::Import(a) => import_file(&mut store, a, out),
        Cmd::Seal(a) => seal(&mut store, a, out),
        Cmd::Show(a) => show(&store, a, out),
        Cmd::List => list(&store, out),
        Cmd::Index(a) => index(&store, a, out),
    }
}

/// `--store`, else `$POA_STORE`, else [`DEFAULT_STORE`].
fn store_dir(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("POA_STORE").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STORE))
}

fn parse_id(id: &str) -> anyhow::Result<DatanetId> {
    Ok(id.parse()?)
}

#[derive(Serialize)]
struct Created<'a> {
    store: &'a Path,
    datanet: &'a DatanetId,
    name: &'a str,
    curator: Address,
    input_shape: &'a [usize],
    classes: u32,
}

fn created<'a>(store: &'a FileStore, d: &'a Datanet) -> Created<'a> {
    Created {
        store: store.root(),
        datanet: &d.id,
        name: &d.name,
        curator: d.curator,
        input_shape: &d.input_shape,
        classes: d.classes,
    }
}

fn create(store: &mut FileStore, a: &CreateArgs, out: &Output) -> anyhow::Result<()> {
    let spec = DatanetSpec {
        name: a.name.clone(),
        curator: a.curator.parse().context("--curator")?,
        input_shape: vec![a.input_len],
        classes: a.classes,
    };
    let d = store.create(spec)?;
    out.result(&created(store, &d), || {
        format!(
            "created datanet {} (\"{}\", {} inputs, {} classes, curator {}) in {}; version 1 is open",
            d.id,
            d.name,
            d.input_len(),
            d.classes,
            d.curator,
            store.root().display()
        )
    })
}

/// Reads `--sample`: a JSON array given inline, or the path of a file holding one.
fn read_sample(arg: &str) -> anyhow::Result<Vec<f32>> {
    let (text, what) = if arg.trim_start().starts_with('[') {
        (arg.to_string(), "--sample".to_string())
    } else {
        let text = std::fs::read_to_string(arg).with_context(|| {
            format!("reading --sample {arg} (give a JSON array of numbers or a file holding one)")
        })?;
        (text, arg.to_string())
    };
    serde_json::from_str(&text)
        .with_context(|| format!("parsing {what}: expected a JSON array of numbers"))
}

#[derive(Serialize)]
struct Added<'a> {
    datanet: &'a DatanetId,
    #[serde(flatten)]
    at: EntryRef,
    content_hash: String,
}

fn add(store: &mut FileStore, a: &AddArgs, out: &Output) -> anyhow::Result<()> {
    let id = parse_id(&a.id)?;
    let contribution = NewContribution {
        contributor: a.contributor.parse().context("--contributor")?,
        sample: read_sample(&a.sample)?,
        label: a.label,
    };
    let hash = poa_runtime::datanet::content_hash(&contribution.sample, contribution.label);
    let at = store
        .add(&id, a.version, contribution)
        .with_context(|| format!("contribution to datanet {id} rejected"))?;
    let r = Added {
        datanet: &id,
        at,
        content_hash: hash.to_string(),
    };
    out.result(&r, || {
        format!(
            "added to datanet {id} as version {} entry #{} (content hash {hash})",
            at.version, at.index
        )
    })
}

#[derive(Serialize)]
struct RejectedEntry {
    entry: usize,
    contributor: String,
    reason: String,
    duplicate_of: Option<EntryRef>,
}

#[derive(Serialize)]
struct Imported<'a> {
    datanet: &'a DatanetId,
    created: Option<Created<'a>>,
    version: u32,
    entries: usize,
    accepted: usize,
    rejected: Vec<RejectedEntry>,
}

fn import_file(store: &mut FileStore, a: &ImportArgs, out: &Output) -> anyhow::Result<()> {
    let file = DatanetFile::read(&a.file)?;
    let (id, new) = match &a.id {
        Some(id) => {
            let id = parse_id(id)?;
            store.get(&id)?;
            (id, None)
        }
        None => {
            let (spec, [shape, classes]) = file.spec(a.input_len.map(|n| vec![n]), a.classes)?;
            if shape == SpecSource::Inferred || classes == SpecSource::Inferred {
                out.warn(&format!(
                    "input length {} and {} classes inferred from the entries; pass --input-len and --classes to set them",
                    spec.input_shape.iter().product::<usize>(),
                    spec.classes,
                ));
            }
            let d = store.create(spec)?;
            (d.id.clone(), Some(d))
        }
    };
    let report = import(store, &id, &file)
        .with_context(|| format!("importing {} into datanet {id}", a.file.display()))?;
    let version = report.accepted.first().map_or_else(
        || store.get(&id).map(|d| d.open_version()),
        |x| Ok(x.at.version),
    )?;
    let r = Imported {
        datanet: &id,
        created: new.as_ref().map(|d| created(store, d)),
        version,
        entries: file.entries.len(),
        accepted: report.accepted.len(),
        rejected: report
            .rejected
            .iter()
            .map(|r| RejectedEntry {
                entry: r.entry,
                contributor: r.contributor.clone(),
                reason: r.error.to_string(),
                duplicate_of: r.error.duplicate_of().copied(),
            })
            .collect(),
    };
    out.result(&r, || {
        let mut s = String::new();
        if let Some(d) = &new {
            s += &format!(
                "created datanet {} (\"{}\", {} inputs, {} classes) in {}\n",
                d.id,
                d.name,
                d.input_len(),
                d.classes,
                store.root().display()
            );
        }
        s += &format!(
            "imported {} of {} entries into datanet {id} version {version}; {} rejected",
            r.accepted,
            r.entries,
            r.rejected.len()
        );
        for x in &r.rejected {
            s += &format!("\n  entry {} ({}): {}", x.entry, x.contributor, x.reason);
        }
        s
    })
}

#[derive(Serialize)]
struct Sealed<'a> {
    datanet: &'a DatanetId,
    version: u32,
    root: Root,
    entries: usize,
    open: u32,
}

/// Seals the open version of datanet `id` under the Poseidon root of its leaves.
pub fn seal_open(store: &mut impl DatanetStore, id: &DatanetId) -> anyhow::Result<SealedVersion> {
    let d = store.get(id)?;
    let root = datanet_root(&d.version(d.open_version())?.leaves());
    Ok(store.seal(id, root)?)
}

fn seal(store: &mut FileStore, a: &SealArgs, out: &Output) -> anyhow::Result<()> {
    let id = parse_id(&a.id)?;
    let sealed = seal_open(store, &id)?;
    let r = Sealed {
        datanet: &id,
        version: sealed.version,
        root: sealed.seal.root,
        entries: sealed.seal.entries,
        open: sealed.open,
    };
    out.result(&r, || {
        format!(
            "sealed datanet {id} version {} ({} entries) with root {}; version {} is open",
            r.version, r.entries, r.root, r.open
        )
    })
}

/// One version of a datanet in `poa datanet show` and the node's `GET /v1/datanets/{id}`.
#[derive(Serialize)]
pub struct VersionSummary {
    version: u32,
    sealed: bool,
    root: Option<Root>,
    sealed_at: Option<u64>,
    entries: usize,
    /// Contributions per contributor (address order).
    contributors: BTreeMap<Address, usize>,
}

impl VersionSummary {
    pub fn of(v: &Version) -> Self {
        let mut contributors = BTreeMap::new();
        for c in &v.contributions {
            *contributors.entry(c.contributor).or_insert(0) += 1;
        }
        Self {
            version: v.number,
            sealed: v.is_sealed(),
            root: v.seal.as_ref().map(|s| s.root),
            sealed_at: v.seal.as_ref().map(|s| s.sealed_at),
            entries: v.contributions.len(),
            contributors,
        }
    }
}

#[derive(Serialize)]
struct Shown<'a> {
    datanet: &'a DatanetId,
    name: &'a str,
    curator: Address,
    input_shape: &'a [usize],
    classes: u32,
    created_at: u64,
    open_version: u32,
    versions: Vec<VersionSummary>,
}

fn show(store: &FileStore, a: &ShowArgs, out: &Output) -> anyhow::Result<()> {
    let id = parse_id(&a.id)?;
    let d = store.get(&id)?;
    let versions = match a.version {
        Some(n) => vec![VersionSummary::of(d.version(n)?)],
        None => d.versions.iter().map(VersionSummary::of).collect(),
    };
    let r = Shown {
        datanet: &d.id,
        name: &d.name,
        curator: d.curator,
        input_shape: &d.input_shape,
        classes: d.classes,
        created_at: d.created_at,
        open_version: d.open_version(),
        versions,
    };
    out.result(&r, || {
        let mut s = format!(
            "datanet {} (\"{}\"), curator {}, input {:?}, {} classes",
            d.id, d.name, d.curator, d.input_shape, d.classes
        );
        for v in &r.versions {
            s += &format!(
                "\nversion {}: {} entries, {}",
                v.version,
                v.entries,
                match &v.root {
                    Some(root) => format!("sealed, root {root}"),
                    None => "open".to_string(),
                }
            );
            for (who, n) in &v.contributors {
                s += &format!("\n  {who}  {n:>6}");
            }
        }
        s
    })
}

fn list(store: &FileStore, out: &Output) -> anyhow::Result<()> {
    let ids = store.list()?;
    out.result(&ids, || {
        if ids.is_empty() {
            format!("no datanets in {}", store.root().display())
        } else {
            ids.iter()
                .map(DatanetId::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        }
    })
}

#[derive(Serialize)]
struct Indexed<'a> {
    datanet: &'a DatanetId,
    version: u32,
    datanet_root: &'a str,
    model: &'a str,
    model_digest: &'a str,
    entries: usize,
    embedding_dim: usize,
    embedding_bound: i64,
    index_root: String,
    out: &'a Path,
}

fn index(store: &FileStore, a: &IndexArgs, out: &Output) -> anyhow::Result<()> {
    let id = parse_id(&a.id)?;
    let compiled = Compiled::load(&a.model_dir)?;
    let d = store.get(&id)?;
    let idx = build_index(&compiled.qmodel, &d, a.version)
        .with_context(|| format!("indexing datanet {id} version {}", a.version))?;
    let path = a
        .out
        .clone()
        .unwrap_or_else(|| a.model_dir.join(format!("index_{id}_v{}.json", a.version)));
    write_json(&path, &idx)?;
    let r = Indexed {
        datanet: &id,
        version: a.version,
        datanet_root: &idx.datanet_root,
        model: &idx.model_name,
        model_digest: &idx.model_digest,
        entries: idx.entries.len(),
        embedding_dim: idx.dim(),
        embedding_bound: idx.embedding_bound,
        index_root: format!("{:?}", index_root(&idx)),
        out: &path,
    };
    out.result(&r, || {
        format!(
            "indexed datanet {id} version {} (root {}) for model {}: {} entries, embedding dim {} (|v| <= {})\nindex root {}\nwritten to {}",
            r.version,
            r.datanet_root,
            r.model,
            r.entries,
            r.embedding_dim,
            r.embedding_bound,
            r.index_root,
            path.display()
        )
    })
}
