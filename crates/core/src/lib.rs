//! HAID Models core: everything the CLI and the desktop app do, without a UI.
//!
//! One module per idea (DESIGN.md): [`location`] says where the cache is,
//! [`cache`] reads it, [`manifest`] says which models the product needs, and
//! [`status`] joins the two.

mod atomic_file;
pub mod cache;
pub mod download;
pub mod env;
pub mod error;
pub mod location;
pub mod manifest;
pub mod migrate;
pub mod query;
pub mod settings;
pub mod status;
pub mod watch;

pub use error::{Error, Result};
