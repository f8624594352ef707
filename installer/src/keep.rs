//! `--keep-root`: a new image that keeps the root filesystem of the image it replaces,
//! so that what a guest wrote (files made at the prompt, `msync`ed mappings) survives a
//! rebuild of the kernel or the initfs. `make qemu` uses it; `make qemu fresh=yes` does
//! not.
//!
//! The old root is kept only when it is certainly the same partition: the old image has
//! the new layout's size, its GPT's partition 2 is Tessera's root (its unique GUID) at
//! the same sectors, and the bytes there open as a RedoxFS volume. Anything else (a
//! different `filesystem_size`, no image yet, a damaged volume) gives a fresh root, and
//! [`old_root`] says why, for the installer to print.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use redoxfs::{DiskIo, FileSystem};

use crate::image::ROOT_PARTITION_GUID;
use crate::layout::{Extent, Layout, SECTOR_BYTES};
use crate::slice::PartitionSlice;

/// The old image, opened for reading, if its root partition can be kept for `layout`;
/// otherwise why not.
pub fn old_root(old: &Path, layout: &Layout) -> Result<File, String> {
    let extent = layout.root.ok_or("the config has no root filesystem")?;
    let mut file = File::open(old).map_err(|e| format!("{}: {e}", old.display()))?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len != layout.disk_bytes {
        return Err(format!("its size changed ({len} bytes, now {})", layout.disk_bytes));
    }
    let disk = gpt::GptConfig::new()
        .writable(false)
        .logical_block_size(gpt::disk::LogicalBlockSize::Lb512)
        .open_from_device(&mut file)
        .map_err(|e| format!("its partition table: {e}"))?;
    let same = disk.partitions().get(&2).is_some_and(|p| {
        p.part_guid == ROOT_PARTITION_GUID
            && p.first_lba == extent.first_lba
            && p.last_lba == extent.first_lba + extent.sectors - 1
    });
    if !same {
        return Err("its root partition is not where the config puts it".into());
    }
    let slice = PartitionSlice::new(&mut file, extent.start_bytes(), extent.len_bytes()).map_err(|e| e.to_string())?;
    FileSystem::open(DiskIo(slice), None, None, false)
        .map_err(|e| format!("its root partition does not open as RedoxFS (errno {})", e.errno))?;
    Ok(file)
}

/// Copies the bytes of `extent` from `old` into `new`, leaving runs of zeroes as holes
/// (both are sparse files of the same size: `new` was just made with its full length).
pub fn copy_root(old: &mut File, new: &mut File, extent: Extent) -> io::Result<()> {
    const CHUNK: usize = 64 * 1024;
    let mut buf = vec![0u8; CHUNK];
    let end = extent.start_bytes() + extent.len_bytes();
    let mut at = extent.start_bytes();
    old.seek(SeekFrom::Start(at))?;
    while at < end {
        let want = usize::try_from(end - at).unwrap_or(CHUNK).min(CHUNK);
        old.read_exact(&mut buf[..want])?;
        if buf[..want].iter().any(|&b| b != 0) {
            new.seek(SeekFrom::Start(at))?;
            new.write_all(&buf[..want])?;
        }
        at += want as u64;
    }
    debug_assert_eq!(at % SECTOR_BYTES, 0);
    Ok(())
}
