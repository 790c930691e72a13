//! `poa attribute`: run a compiled model on an input and attribute its prediction to the top-k
//! entries of an attribution index (Proof of Attribution v1, computed natively — the values a
//! proof would publish), and preview the reward split a contract would pay for it.

use std::path::PathBuf;

use anyhow::Context;
use poa_circuits::commit::index_root;
use poa_runtime::attribution::{
    attribute, split, AttributionIndex, RewardShares, RewardSplit, DEFAULT_K,
};
use poa_runtime::datanet::Address;
use poa_runtime::{parse_inputs, tensor::numel};
use serde::Serialize;

use crate::artifacts::{write_bytes, Compiled};
use crate::output::Output;
use crate::proven::ProvenAttribution;
use crate::reward_report::{self, format_open};

/// Arguments of `poa attribute`.
#[derive(clap::Args)]
pub struct Args {
    /// Compiled model folder (from `poa compile`).
    pub dir: PathBuf,
    /// Input file (`{"inputs": [[…]]}` or ezkl's `{"input_data": [[…]]}`); the first sample is attributed.
    #[arg(long, required_unless_present = "proof")]
    pub input: Option<PathBuf>,
    /// Attribution index (from `poa datanet index`).
    #[arg(long, required_unless_present = "proof")]
    pub index: Option<PathBuf>,
    /// Instead of attributing natively, read the attribution from this proof's public instances
    /// (verified first against the folder's keys) and preview its reward split.
    #[arg(long, conflicts_with_all = ["input", "index"])]
    pub proof: Option<PathBuf>,
    /// Number of entries to attribute to (1..=entries).
    #[arg(long, default_value_t = DEFAULT_K)]
    pub k: usize,
    /// Fee to split in the reward preview, in token units (18 decimals: 10^18 = 1 OPEN).
    #[arg(long, default_value_t = 1_000_000_000_000_000_000)]
    pub fee: u128,
    /// Reward shares in basis points: owner,contributors,prover,treasury (summing to 10000).
    #[arg(long, default_value_t = RewardShares::default())]
    pub shares: RewardShares,
    /// Also write the reward preview as a self-contained report (`.svg`, or `.html`/`.htm`).
    #[arg(long)]
    pub report: Option<PathBuf>,
}

#[derive(Serialize)]
struct Report<'a> {
    model: &'a str,
    datanet: &'a str,
    version: u32,
    index_root: String,
    #[serde(flatten)]
    attribution: poa_runtime::attribution::Attribution,
    reward: RewardSplit,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<String>,
}

/// `part / whole` in percent for token amounts (0 when the whole is 0).
fn pct_u(part: u128, whole: u128) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// `part / whole` in percent (0 when the whole is 0).
pub fn pct(part: i128, whole: i128) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// Runs `poa attribute`.
pub fn run(args: &Args, out: &Output) -> anyhow::Result<()> {
    let (index_path, input_path) = match (&args.proof, &args.index, &args.input) {
        (Some(proof), _, _) => return from_proof(args, proof, out),
        (None, Some(index), Some(input)) => (index, input),
        _ => anyhow::bail!("pass --input and --index, or --proof"),
    };
    let compiled = Compiled::load(&args.dir)?;
    let q = &compiled.qmodel;
    let text = std::fs::read_to_string(index_path)
        .with_context(|| format!("reading {}", index_path.display()))?;
    let index: AttributionIndex =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", index_path.display()))?;
    let text = std::fs::read_to_string(input_path)
        .with_context(|| format!("reading {}", input_path.display()))?;
    let samples = parse_inputs(&text, numel(&q.input().shape))
        .with_context(|| format!("parsing {}", input_path.display()))?;
    let x = samples
        .first()
        .with_context(|| format!("{} holds no sample", input_path.display()))?;
    let a = attribute(q, &index, x, args.k)?;
    let top: Vec<_> = a.top.iter().map(|t| (t.contributor, t.score)).collect();
    let reward = split(args.fee, &args.shares, &top)?;
    if let Some(path) = &args.report {
        let title = format!(
            "Reward preview: model {}, datanet {} v{}, top-{}",
            index.model_name,
            index.datanet,
            index.version,
            a.top.len()
        );
        write_report(path, &reward, &title)?;
    }
    let r = Report {
        model: &index.model_name,
        datanet: &index.datanet,
        version: index.version,
        index_root: format!("{:?}", index_root(&index)),
        attribution: a,
        reward,
        report: args.report.as_ref().map(|p| p.display().to_string()),
    };
    out.result(&r, || {
        let a = &r.attribution;
        let mut s = format!(
            "model {}, datanet {} v{} ({} entries, index root {})\npredicted class {}\ntop-{} (score v{}, threshold {}):\n{:>4}  {:>6}  {:<42}  {:>5}  {:>14}  {:>7}",
            r.model,
            r.datanet,
            r.version,
            index.entries.len(),
            r.index_root,
            a.predicted_class,
            a.top.len(),
            a.score_version,
            a.threshold,
            "rank",
            "entry",
            "contributor",
            "label",
            "score",
            "share"
        );
        for (rank, t) in a.top.iter().enumerate() {
            s += &format!(
                "\n{:>4}  {:>6}  {:<42}  {:>5}  {:>14}  {:>6.2}%",
                rank + 1,
                t.index,
                t.contributor.to_string(),
                t.label,
                t.score,
                pct(t.score, a.top_k_total)
            );
        }
        s += &format!(
            "\nper contributor (top-{k} share / share of all {} entries' score):",
            index.entries.len(),
            k = a.top.len()
        );
        let mut rows: Vec<_> = a.contributors.iter().collect();
        rows.sort_by(|x, y| y.top_k_score.cmp(&x.top_k_score).then(y.score.cmp(&x.score)));
        for c in rows {
            s += &format!(
                "\n  {:<42}  {:>2} entries  {:>6.2}%  {:>6.2}%",
                c.contributor.to_string(),
                c.top_k_entries,
                pct(c.top_k_score, a.top_k_total),
                pct(c.score, a.total)
            );
        }
        s += &reward_table(&r.reward);
        if let Some(p) = &r.report {
            s += &format!("\nreward report written to {p}");
        }
        s
    })
}

/// Writes the reward report: HTML for `.html`/`.htm`, SVG otherwise.
fn write_report(path: &std::path::Path, reward: &RewardSplit, title: &str) -> anyhow::Result<()> {
    let is_html = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
    write_bytes(
        path,
        reward_report::document(reward, title, is_html).as_bytes(),
    )
}

/// The reward split as a text table.
fn reward_table(w: &RewardSplit) -> String {
    let mut s = format!(
        "\nreward preview (fee {} OPEN, shares {} bps; rounding dust {} units to the treasury):\n  {:<12}  {:<42}  {:>28}  {:>7}",
        format_open(w.fee),
        w.shares,
        w.dust,
        "party",
        "address or role",
        "amount (OPEN)",
        "share"
    );
    let mut line = |party: &str, who: &str, amount: u128| {
        s += &format!(
            "\n  {:<12}  {:<42}  {:>28}  {:>6.2}%",
            party,
            who,
            format_open(amount),
            pct_u(amount, w.fee)
        );
    };
    line("owner", "model owner", w.owner);
    for c in &w.contributors {
        line("contributor", &c.contributor.to_string(), c.amount);
    }
    line("prover", "prover", w.prover);
    line("treasury", "treasury", w.treasury);
    s
}

/// What `poa attribute --proof` reports.
#[derive(Serialize)]
struct ProofReport {
    attribution: ProvenAttribution,
    reward: RewardSplit,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<String>,
}

/// Splits `fee` over the top-k a verified proof publishes — exactly what a reward contract
/// would pay for it.
pub fn split_proven(
    attribution: &ProvenAttribution,
    fee: u128,
    shares: &RewardShares,
) -> anyhow::Result<RewardSplit> {
    let top: Vec<(Address, i128)> = attribution
        .top
        .iter()
        .map(|e| Ok((e.contributor, i128::try_from(e.score)?)))
        .collect::<anyhow::Result<_>>()?;
    Ok(split(fee, shares, &top)?)
}

/// `poa attribute --proof`: verify the proof against the folder's keys, then split the fee over
/// the top-k its public instances publish — exactly what a reward contract would pay.
fn from_proof(args: &Args, proof_path: &std::path::Path, out: &Output) -> anyhow::Result<()> {
    let verified = super::verify::verify_file(&args.dir, proof_path, out)?;
    let attribution = verified.attribution.with_context(|| {
        format!(
            "{} was proven with inference-only keys: it publishes no attribution",
            proof_path.display()
        )
    })?;
    let reward = split_proven(&attribution, args.fee, &args.shares)?;
    if let Some(path) = &args.report {
        let title = format!(
            "Reward preview from proof {}: top-{}",
            proof_path.display(),
            attribution.top.len()
        );
        write_report(path, &reward, &title)?;
    }
    let r = ProofReport {
        attribution,
        reward,
        report: args.report.as_ref().map(|p| p.display().to_string()),
    };
    out.result(&r, || {
        let mut s = format!(
            "verified proof {}\n{}",
            proof_path.display(),
            r.attribution.text()
        );
        s += &reward_table(&r.reward);
        if let Some(p) = &r.report {
            s += &format!("\nreward report written to {p}");
        }
        s
    })
}
