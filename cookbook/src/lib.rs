//! cookbook: the host tool that cooks packages for Tessera from recipes in
//! Redox's schema (docs/cookbook.md).
//!
//! - [`recipe`]: recipe.toml, parsed and checked;
//! - [`order`]: the cook order (build dependencies first, cycles refused);
//! - [`source`] and [`deb`]: sources fetched, pinned by SHA-256, cached,
//!   unpacked; offline mode;
//! - [`cook`]: the per-recipe directories, the `COOKBOOK_*` variables and the
//!   templates; [`cc`]: the `cc` template.

pub mod cc;
pub mod cook;
pub mod deb;
pub mod error;
pub mod order;
pub mod recipe;
pub mod source;

pub use cook::{Config, Outcome};
pub use error::{Error, ErrorKind};
pub use recipe::Recipe;
pub use source::Fetcher;
