//! One module per subcommand.

pub mod migrate;
pub mod parked;
pub mod portal;
pub mod publish;
pub mod secrets;
pub mod serve;
pub mod status;
pub mod topology;
pub mod up;
