//! One module per subcommand.

pub mod compile;
pub mod demo;
pub mod run;
