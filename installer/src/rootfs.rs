//! The root filesystem: a RedoxFS volume on partition 2, made on the host with the
//! `redoxfs` crate (no FUSE, no root privileges), filled from host directories (the
//! `--root-dir` tree, then each package's stage, see [`crate::packages`]) and then from
//! the config's `[[files]]`.
//!
//! ```text
//!  PartitionSlice (partition 2) ── DiskIo ── FileSystem::create   (a fresh volume)
//!     --root-dir DIR, package stages ──────► each entry, in name order: directories
//!                                            merged, files and links made (owner 0)
//!     [[files]] in order ──────────────────► parents made (0755), each entry made or
//!                                            updated
//! ```
//!
//! A directory that a tree shares with an earlier one (`usr/bin` in two packages) is
//! merged; a file or link that is already there is an error naming it (two packages
//! would install the same file). A `[[files]]` entry whose path already exists updates
//! it: a file gets the new contents, mode and owner; a directory the new mode and owner;
//! a kind that differs (a file where a directory is) is an error.
//!
//! The volume's UUID is random (the `redoxfs` crate makes one), so unlike the ESP the
//! root partition's bytes differ between two runs; timestamps are `SOURCE_DATE_EPOCH`
//! when set, else the time of the run.

use std::io::{Read, Seek, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use redoxfs::{DiskIo, FileSystem, Node, Transaction, TreePtr};

use crate::config::FileEntry;
use crate::error::{Error, Result};

/// ENOENT, as redoxfs reports a missing name.
const ENOENT: i32 = 2;

/// A host directory copied into the root filesystem.
#[derive(Clone, Copy, Debug)]
pub struct Tree<'a> {
    /// The directory; its contents go to the root's top level.
    pub dir: &'a Path,
    /// What it is, for errors: `--root-dir`, `package bzip2`.
    pub origin: &'a str,
}

/// What to do with a node that is already there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Existing {
    /// Give it the new contents, mode and owner (`[[files]]`).
    Update,
    /// A directory is merged; anything else is EEXIST (trees).
    Refuse,
}

/// One node to make: its path components, kind, permissions, owner and bytes.
struct Item<'a> {
    parts: &'a [&'a str],
    kind: u16,
    perm: u16,
    uid: u32,
    gid: u32,
    data: &'a [u8],
}

/// Formats `partition` as RedoxFS and fills it: first from `trees` in order, then the
/// `files` entries in order. `image` names the output in errors.
pub fn write_root<T: Read + Write + Seek>(
    partition: T,
    trees: &[Tree<'_>],
    files: &[FileEntry],
    image: &Path,
) -> Result<()> {
    let failed = |step: String, reason: String| Error::RootFs { path: image.to_owned(), step, reason };
    let (secs, nsecs) = now();
    let mut fs = FileSystem::create(DiskIo(partition), None, secs, nsecs)
        .map_err(|e| failed("formatting RedoxFS".into(), format!("errno {}", e.errno)))?;
    for tree in trees {
        copy_tree(&mut fs, tree, tree.dir, &mut Vec::new(), (secs, nsecs), &failed)?;
    }
    for entry in files {
        // The config was validated: the path has at least one component.
        let parts = entry.components().map_err(|reason| failed(format!("adding {}", entry.path), reason))?;
        let kind = if entry.directory {
            Node::MODE_DIR
        } else if entry.symlink {
            Node::MODE_SYMLINK
        } else {
            Node::MODE_FILE
        };
        let item = Item {
            parts: &parts,
            kind,
            perm: entry.permissions(),
            uid: entry.uid,
            gid: entry.gid,
            data: entry.data.as_bytes(),
        };
        fs.tx(|tx| add(tx, &item, Existing::Update, secs, nsecs))
            .map_err(|e| failed(format!("adding {}", entry.path), errno_text(e.errno)))?;
    }
    Ok(())
}

/// Copies the contents of host directory `dir` (inside `tree`, at `prefix` in the
/// volume), entries in name order so two runs make the same tree. Owner 0, the host's
/// permission bits.
fn copy_tree<D: redoxfs::Disk>(
    fs: &mut FileSystem<D>,
    tree: &Tree<'_>,
    dir: &Path,
    prefix: &mut Vec<String>,
    (secs, nsecs): (u64, u32),
    failed: &impl Fn(String, String) -> Error,
) -> Result<()> {
    let reading =
        |path: &Path, e: std::io::Error| failed(format!("reading {} ({})", path.display(), tree.origin), e.to_string());
    let mut entries = std::fs::read_dir(dir)
        .map_err(|e| reading(dir, e))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| reading(dir, e))?;
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            failed(format!("reading {} ({})", path.display(), tree.origin), "the name is not UTF-8".into())
        })?;
        let meta = std::fs::symlink_metadata(&path).map_err(|e| reading(&path, e))?;
        let (kind, data) = if meta.is_dir() {
            (Node::MODE_DIR, Vec::new())
        } else if meta.is_file() {
            (Node::MODE_FILE, std::fs::read(&path).map_err(|e| reading(&path, e))?)
        } else if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| reading(&path, e))?;
            (Node::MODE_SYMLINK, target.into_os_string().into_encoded_bytes())
        } else {
            return Err(failed(
                format!("reading {} ({})", path.display(), tree.origin),
                "not a file, directory or symlink".into(),
            ));
        };
        prefix.push(name.to_owned());
        let parts: Vec<&str> = prefix.iter().map(String::as_str).collect();
        let perm = (meta.permissions().mode() & 0o7777) as u16;
        let item = Item { parts: &parts, kind, perm, uid: 0, gid: 0, data: &data };
        let shown = format!("/{}", prefix.join("/"));
        fs.tx(|tx| add(tx, &item, Existing::Refuse, secs, nsecs)).map_err(|e| {
            let reason = if e.errno == syscall::EEXIST {
                "already in the root filesystem (from an earlier package or --root-dir)".into()
            } else {
                errno_text(e.errno)
            };
            failed(format!("adding {shown} from {}", tree.origin), reason)
        })?;
        if kind == Node::MODE_DIR {
            copy_tree(fs, tree, &path, prefix, (secs, nsecs), failed)?;
        }
        prefix.pop();
    }
    Ok(())
}

/// Makes `item` (parents as needed, 0755), or deals with what is there as `existing`
/// says.
fn add<D: redoxfs::Disk>(
    tx: &mut Transaction<'_, D>,
    item: &Item<'_>,
    existing: Existing,
    secs: u64,
    nsecs: u32,
) -> core::result::Result<(), syscall::Error> {
    let (name, parents) = item.parts.split_last().ok_or(syscall::Error::new(syscall::EINVAL))?;
    let mut parent = TreePtr::root();
    for part in parents {
        parent = match tx.find_node(parent, part) {
            Ok(node) if node.data().mode() & Node::MODE_TYPE == Node::MODE_DIR => node.ptr(),
            Ok(_) => return Err(syscall::Error::new(syscall::ENOTDIR)),
            Err(e) if e.errno == ENOENT => tx.create_node(parent, part, Node::MODE_DIR | 0o755, secs, nsecs)?.ptr(),
            Err(e) => return Err(e),
        };
    }
    let mut node = match tx.find_node(parent, name) {
        Ok(node) if node.data().mode() & Node::MODE_TYPE == item.kind => {
            if existing == Existing::Refuse {
                // Trees merge directories and keep the first one's mode.
                return if item.kind == Node::MODE_DIR { Ok(()) } else { Err(syscall::Error::new(syscall::EEXIST)) };
            }
            node
        }
        Ok(_) => return Err(syscall::Error::new(syscall::EEXIST)),
        Err(e) if e.errno == ENOENT => tx.create_node(parent, name, item.kind | item.perm, secs, nsecs)?,
        Err(e) => return Err(e),
    };
    let ptr = node.ptr();
    node.data_mut().set_mode(item.kind | item.perm);
    node.data_mut().set_uid(item.uid);
    node.data_mut().set_gid(item.gid);
    tx.sync_tree(node)?;
    if item.kind != Node::MODE_DIR {
        tx.truncate_node(ptr, 0, secs, nsecs)?;
        let written = tx.write_node(ptr, 0, item.data, secs, nsecs)?;
        if written != item.data.len() {
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
