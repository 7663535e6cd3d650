//! One module per subcommand.

pub mod download;
pub mod list;
pub mod location;
pub mod scan;
