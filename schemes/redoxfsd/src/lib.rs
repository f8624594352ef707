//! `redoxfsd`: a RedoxFS filesystem served as a user scheme, over a block
//! device that is any open file (`docs/redoxfs.md`).
//!
//! ```text
//! Redoxfsd (fs.rs) ── fs: redoxfs::FileSystem<Knobs<D>>   the on-disk tree (the `redoxfs` crate)
//!   │                    └── D: Device (disk.rs)           a file fd, read with seek + read/write + fsync
//!   ├── cache: Cache<P> (cache.rs)     pages of mapped files, in the daemon's own memory
//!   │      └── P: Pages                ramfs's page-granular reservations (fake in tests)
//!   └── handles                        open files (positioned: the kernel keeps offsets)
//! requests: path calls (fs.rs), open-file calls (io.rs), fmap + /.redoxfsd/ (fmap.rs)
//! ```
//! The filesystem is generic over the device and the memory, so the host
//! tests (`tests.rs`) run the whole scheme over a disk in a `Vec` and fake
//! pages; the daemon (`main.rs`) plugs in [`FdDisk`] and `SystemPages`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod block_cache;
mod cache;
mod disk;
mod find;
mod fmap;
mod fs;
mod io;
mod mkfs;
mod parallel;
mod path;
mod records;
mod runs;

#[cfg(test)]
mod tests;

pub use disk::{Device, FdDisk};
pub use find::partitions_named;
pub use fs::{Clock, Redoxfsd};
pub use mkfs::format;

/// The reserved directory at the root: `/.redoxfsd/pins`, `/.redoxfsd/cache`,
/// `/.redoxfsd/ctl`.
/// It is not on the disk; a file of that name on the disk is hidden.
pub const CONTROL_DIR: &str = ".redoxfsd";
