//! Writes the disk image: a sparse file, the protective MBR and both GPTs, the FAT ESP,
//! then (with `filesystem_size` > 0) the RedoxFS root partition (`rootfs.rs`).
//!
//! Disk and partition GUIDs are fixed constants rather than random, so rebuilding an
//! image from the same inputs gives the same bytes. Two Tessera images attached to one
//! machine would share GUIDs; nothing here relies on them being unique.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::Path;

use gpt::disk::LogicalBlockSize;
use gpt::mbr::ProtectiveMBR;
use gpt::partition::Partition;
use gpt::partition_types::{self, OperatingSystem};
use uuid::Uuid;

use crate::config::FileEntry;
use crate::error::{Error, Result};
use crate::esp::{self, EspFile};
use crate::keep;
use crate::layout::{Extent, Layout};
use crate::rootfs;
use crate::slice::PartitionSlice;

/// GPT partition name of the EFI System Partition.
pub const ESP_NAME: &str = "ESP";

/// GPT partition name of the root filesystem partition.
pub const ROOT_NAME: &str = "TESSERA_ROOT";

/// Partition type GUID of Tessera's root filesystem partition (a random GUID chosen for
/// this project; no other OS uses it). It holds a RedoxFS volume.
pub const ROOT_PARTITION_TYPE: Uuid = Uuid::from_u128(0x7f3bfcae_0e6f_450e_a4f8_386cce3a1a23);

/// GUID of the disk itself (GPT header "DiskGUID").
pub const DISK_GUID: Uuid = Uuid::from_u128(0xd007e73e_2204_401c_bd9b_5dd13dfd37f4);

/// Unique partition GUID of the ESP.
pub const ESP_PARTITION_GUID: Uuid = Uuid::from_u128(0xf1b2bc17_05cc_43e0_b75e_a6ee0074626a);

/// Unique partition GUID of the root partition.
pub const ROOT_PARTITION_GUID: Uuid = Uuid::from_u128(0x1598ed6b_e5ae_445f_b34b_e686342f8e18);

/// Creates (or truncates) `path` and writes the whole image into it. With `kept` (the
/// old image, [`keep::old_root`]), the root partition's bytes are copied from it instead
/// of made from `root`.
///
/// Errors: [`Error::Output`] for file errors, [`Error::Gpt`] if the partition table cannot
/// be written, and whatever [`esp::write_esp`] returns.
pub fn write_image(
    path: &Path,
    layout: &Layout,
    esp_mib: u64,
    files: &mut [EspFile],
    root: &RootFiles<'_>,
    kept: Option<&mut File>,
) -> Result<()> {
    let out_err = |source| Error::Output { path: path.to_owned(), source };
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path).map_err(out_err)?;
    // Sparse: only the sectors written below take space on the host.
    file.set_len(layout.disk_bytes).map_err(out_err)?;

    write_partition_table(&mut file, layout, path)?;

    let esp = PartitionSlice::new(&mut file, layout.esp.start_bytes(), layout.esp.len_bytes()).map_err(out_err)?;
    esp::write_esp(esp, files, esp_mib, path)?;
    if let (Some(extent), Some(old)) = (layout.root, kept) {
        keep::copy_root(old, &mut file, extent).map_err(out_err)?;
    } else if let Some(extent) = layout.root {
        let slice = PartitionSlice::new(&mut file, extent.start_bytes(), extent.len_bytes()).map_err(out_err)?;
        rootfs::write_root(slice, root.trees, root.files, path)?;
    }
    Ok(())
}

/// What goes into the root filesystem.
#[derive(Clone, Copy, Debug, Default)]
pub struct RootFiles<'a> {
    /// Host directories copied in first, in order (`--root-dir`, then the packages).
    pub trees: &'a [rootfs::Tree<'a>],
    /// The config's `[[files]]`.
    pub files: &'a [FileEntry],
}

/// Writes the protective MBR (LBA 0), the primary GPT (LBA 1 and the entry array after
/// it) and the backup GPT (last sectors), UEFI spec 2.10 §5.
fn write_partition_table(file: &mut File, layout: &Layout, path: &Path) -> Result<()> {
    let gpt_err = |source| Error::Gpt { path: path.to_owned(), source };
    // The protective MBR's one partition covers the disk after LBA 0, capped at what a
    // 32-bit MBR size field can say (UEFI spec 2.10 §5.2.3).
    let mbr_sectors = u32::try_from(layout.disk_sectors() - 1).unwrap_or(u32::MAX);
    ProtectiveMBR::with_lb_size(mbr_sectors).overwrite_lba0(file).map_err(|e| Error::Output {
        path: path.to_owned(),
        source: std::io::Error::other(format!("writing the protective MBR: {e}")),
    })?;

    let mut disk = gpt::GptConfig::new()
        .writable(true)
        .logical_block_size(LogicalBlockSize::Lb512)
        .create_from_device(file, Some(DISK_GUID))
        .map_err(gpt_err)?;

    let mut partitions = BTreeMap::new();
    partitions.insert(1, partition(ESP_NAME, partition_types::EFI, ESP_PARTITION_GUID, layout.esp));
    if let Some(root) = layout.root {
        let root_type =
            partition_types::Type { guid: ROOT_PARTITION_TYPE, os: OperatingSystem::Custom("Tessera".into()) };
        partitions.insert(2, partition(ROOT_NAME, root_type, ROOT_PARTITION_GUID, root));
    }
    // Replacing the whole table (rather than `add_partition`) keeps our GUIDs and the
    // default 128-entry array.
    disk.update_partitions(partitions).map_err(gpt_err)?;
    disk.write().map_err(gpt_err)?;
    Ok(())
}

fn partition(name: &str, part_type: partition_types::Type, guid: Uuid, extent: Extent) -> Partition {
    Partition {
        part_type_guid: part_type,
        part_guid: guid,
        first_lba: extent.first_lba,
        last_lba: extent.first_lba + extent.sectors - 1,
        flags: 0,
        name: name.to_owned(),
    }
}
