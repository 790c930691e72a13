//! One module per subcommand.

pub mod attribute;
pub mod chain;
pub mod compile;
pub mod datanet;
pub mod demo;
pub mod demo_attribution;
pub mod demo_chain;
pub mod evm;
pub mod node;
pub mod prove;
pub mod prover;
pub mod run;
pub mod setup;
pub mod verify;
