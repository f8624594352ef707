//! `ramfs`: a read-write hierarchical filesystem kept in RAM, served as a
//! user scheme — the default `file:` scheme (`docs/ramfs.md`).
//!
//! ```text
//! Ramfs (fs.rs) ── tree: Tree (tree.rs)     inodes, directories, links, pins
//!   │                 └── File: FileData (data.rs)   one range per file
//!   ├── pages: P: Pages (pages.rs)          the daemon's own memory (fake in tests)
//!   └── handles                            open files (positioned: the kernel keeps offsets)
//! requests: path calls (fs.rs), open-file calls (io.rs), fmap + /.ramfs/ (fmap.rs)
//! ```
//! The filesystem is generic over [`Pages`], so the host tests drive the
//! whole scheme (`tests.rs`) with fake memory that checks every access and
//! counts the pages holding data; the daemon (`main.rs`) plugs in
//! [`SystemPages`].
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod data;
mod fmap;
mod fs;
mod io;
mod pages;
mod path;
mod tree;

#[cfg(test)]
mod tests;

pub use data::MAX_FILE_BYTES;
pub use fs::Ramfs;
pub use pages::{PAGE_BYTES, Pages, SystemPages};

/// The reserved directory at the root: `/.ramfs/pins`, `/.ramfs/ctl`.
pub const CONTROL_DIR: &str = ".ramfs";
/// The scheme name served when none is given.
pub const DEFAULT_NAME: &str = "file";
