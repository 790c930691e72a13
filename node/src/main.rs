//! `poa`: the OpenPoA command line.
//!
//! Each subcommand is one stage of the pipeline and reads/writes named files, so any stage can
//! be rerun on its own (compile → run → datanet → setup → prove → verify → attribute → evm-verifier → chain).

mod artifacts;
mod commands;
mod node;
mod output;
mod proven;
mod reward_report;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// OpenPoA: zero-knowledge proofs of which model and which data produced an AI output.
#[derive(Parser)]
#[command(name = "poa", version, about, long_about = None)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import an ONNX model, calibrate its fixed-point scales and write the quantized model.
    Compile(commands::compile::Args),
    /// Run a compiled model on an input file and print its output, class, embedding and trace hash.
    Run(commands::run::Args),
    /// Load a ceremony SRS (or generate an insecure dev one) and write the proving and verifying keys (with --index: for inference + top-k attribution).
    Setup(commands::setup::Args),
    /// Prove one inference (and its attribution, for --index keys: --nonce, --prover); the proof is verified before it is written.
    Prove(commands::prove::Args),
    /// Verify a proof JSON against a model folder's verifying key (exit code 1 if it does not verify).
    Verify(commands::verify::Args),
    /// Generate the Solidity verifier of a model folder's verifying key (source, bytecode, ABI), compiled with the pinned solcjs.
    EvmVerifier(commands::evm::VerifierArgs),
    /// Print (or write) the EVM calldata of a proof: public instances then proof bytes.
    EvmCalldata(commands::evm::CalldataArgs),
    /// Run the whole pipeline on the bundled fixtures with embedded defaults.
    Demo(commands::demo::Args),
    /// Create datanets, add or import contributions, seal versions, show them.
    Datanet(commands::datanet::Args),
    /// The contracts on a chain: deploy, register a model and datanet version, open a paid request, submit a proof, claim.
    Chain(commands::chain::Args),
    /// Attribute a prediction to the top-k entries of an index natively, or read it from a proof (--proof), and preview the reward split.
    Attribute(commands::attribute::Args),
    /// Run the REST node (API + job store + embedded prover worker), or manage its API keys.
    Node(commands::node::Args),
    /// Run a prover node: worker loops claiming jobs from the node's job store.
    Prover(commands::prover::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("POA_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let out = output::Output::new(cli.json);
    let result = match cli.command {
        Command::Compile(args) => commands::compile::run(&args, &out),
        Command::Run(args) => commands::run::run(&args, &out),
        Command::Setup(args) => commands::setup::run(&args, &out),
        Command::Prove(args) => commands::prove::run(&args, &out),
        Command::Verify(args) => commands::verify::run(&args, &out),
        Command::Demo(args) => commands::demo::run(&args, &out),
        Command::EvmVerifier(args) => commands::evm::run_verifier(&args, &out),
        Command::EvmCalldata(args) => commands::evm::run_calldata(&args, &out),
        Command::Datanet(args) => commands::datanet::run(&args, &out),
        Command::Attribute(args) => commands::attribute::run(&args, &out),
        Command::Node(args) => commands::node::run(&args, &out),
        Command::Prover(args) => commands::prover::run(&args),
        Command::Chain(args) => commands::chain::run(&args, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::FAILURE
        }
    }
}
