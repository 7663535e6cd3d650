//! One module per subcommand.

pub mod archive;
pub mod delete;
pub mod download;
pub mod list;
pub mod location;
pub mod migrate;
pub mod move_cache;
pub mod scan;
pub mod serve;
pub mod space;
pub mod sync;
pub mod update;
pub mod verify;
pub mod watch;
