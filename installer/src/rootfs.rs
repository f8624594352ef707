//! The root filesystem: a RedoxFS volume on partition 2, made on the host with the
//! `redoxfs` crate (no FUSE, no root privileges), filled from a staged directory
//! (`--root-dir`, e.g. packages) and then from the config's `[[files]]`.
//!
//! ```text
//!  PartitionSlice (partition 2) ── DiskIo ── FileSystem::create   (a fresh volume)
//!     --root-dir DIR ──────────────────────► redoxfs::archive      (files, dirs, links, modes)
//!     [[files]] in order ──────────────────► one transaction: parents made (0755),
//!                                            each entry made or updated
//! ```
//!
//! An entry whose path already exists (from the staged directory, or an earlier entry)
//! updates it: a file gets the new contents, mode and owner; a directory the new mode
//! and owner; a kind that differs (a file where a directory is) is an error.
//!
//! The volume's UUID is random (the `redoxfs` crate makes one), so unlike the ESP the
//! root partition's bytes differ between two runs; timestamps are `SOURCE_DATE_EPOCH`
//! when set, else the time of the run.

use std::io::{Read, Seek, Write};
use std::path::Path;

use redoxfs::{DiskIo, FileSystem, Node, Transaction, TreePtr};

use crate::config::FileEntry;
use crate::error::{Error, Result};

/// ENOENT, as redoxfs reports a missing name.
const ENOENT: i32 = 2;

/// Formats `partition` as RedoxFS and fills it: first from `staged` (if any), then the
/// `files` entries in order. `image` names the output in errors.
pub fn write_root<T: Read + Write + Seek>(
    partition: T,
    staged: Option<&Path>,
    files: &[FileEntry],
    image: &Path,
) -> Result<()> {
    let failed = |step: String, reason: String| Error::RootFs { path: image.to_owned(), step, reason };
    let (secs, nsecs) = now();
    let mut fs = FileSystem::create(DiskIo(partition), None, secs, nsecs)
        .map_err(|e| failed("formatting RedoxFS".into(), format!("errno {}", e.errno)))?;
    if let Some(dir) = staged {
        redoxfs::archive(&mut fs, dir)
            .map_err(|e| failed(format!("copying {} into it", dir.display()), e.to_string()))?;
    }
    for entry in files {
        fs.tx(|tx| add(tx, entry, secs, nsecs))
            .map_err(|e| failed(format!("adding {}", entry.path), errno_text(e.errno)))?;
    }
    Ok(())
}

/// Makes or updates `entry` (parents as needed).
fn add<D: redoxfs::Disk>(
    tx: &mut Transaction<'_, D>,
    entry: &FileEntry,
    secs: u64,
    nsecs: u32,
) -> core::result::Result<(), syscall::Error> {
    // The config was validated: the path has at least one component.
    let parts = entry.components().map_err(|_| syscall::Error::new(syscall::EINVAL))?;
    let (name, parents) = parts.split_last().ok_or(syscall::Error::new(syscall::EINVAL))?;
    let mut parent = TreePtr::root();
    for part in parents {
        parent = match tx.find_node(parent, part) {
            Ok(node) if node.data().mode() & Node::MODE_TYPE == Node::MODE_DIR => node.ptr(),
            Ok(_) => return Err(syscall::Error::new(syscall::ENOTDIR)),
            Err(e) if e.errno == ENOENT => tx.create_node(parent, part, Node::MODE_DIR | 0o755, secs, nsecs)?.ptr(),
            Err(e) => return Err(e),
        };
    }
    let kind = if entry.directory {
        Node::MODE_DIR
    } else if entry.symlink {
        Node::MODE_SYMLINK
    } else {
        Node::MODE_FILE
    };
    let mut node = match tx.find_node(parent, name) {
        Ok(node) if node.data().mode() & Node::MODE_TYPE == kind => node,
        Ok(_) => return Err(syscall::Error::new(syscall::EEXIST)),
        Err(e) if e.errno == ENOENT => tx.create_node(parent, name, kind | entry.permissions(), secs, nsecs)?,
        Err(e) => return Err(e),
    };
    let ptr = node.ptr();
    node.data_mut().set_mode(kind | entry.permissions());
    node.data_mut().set_uid(entry.uid);
    node.data_mut().set_gid(entry.gid);
    tx.sync_tree(node)?;
    if !entry.directory {
        tx.truncate_node(ptr, 0, secs, nsecs)?;
        let written = tx.write_node(ptr, 0, entry.data.as_bytes(), secs, nsecs)?;
        if written != entry.data.len() {
            return Err(syscall::Error::new(syscall::ENOSPC));
        }
    }
    Ok(())
}

/// `SOURCE_DATE_EPOCH` if set (reproducible builds), else now.
fn now() -> (u64, u32) {
    if let Some(secs) = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.parse().ok()) {
        return (secs, 0);
    }
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (since.as_secs(), since.subsec_nanos())
}

/// An errno as its name where it is one the installer can meet.
fn errno_text(errno: i32) -> String {
    match errno {
        syscall::ENOSPC => "no space left: raise [general] filesystem_size".into(),
        syscall::EEXIST => "exists as another kind (file, directory or symlink)".into(),
        syscall::ENOTDIR => "a parent is not a directory".into(),
        other => format!("errno {other}"),
    }
}
