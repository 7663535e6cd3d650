//! One module per subcommand.

pub mod list;
pub mod location;
pub mod scan;
