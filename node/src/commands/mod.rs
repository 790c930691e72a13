//! One module per subcommand.

pub mod attribute;
pub mod compile;
pub mod datanet;
pub mod demo;
pub mod demo_attribution;
pub mod evm;
pub mod prove;
pub mod run;
pub mod setup;
pub mod verify;
