//! Where each partition sits on the disk, worked out from `[general]` before anything is
//! written.
//!
//! ```text
//!  LBA 0      1      2..33            2048 (1 MiB)                        end - 1 MiB   end
//!  | PMBR | GPT hdr | entries | gap | ESP (FAT) | TESSERA_ROOT (optional) | gap | entries | hdr |
//! ```
//!
//! Partitions start on 1 MiB boundaries (what partitioning tools do; it suits any erase
//! block or 4K-sector backing store). The last MiB holds the backup partition entry array
//! and backup header, so the disk size is a whole number of MiB.

use crate::config::General;

/// Logical sector size of the image. GPT on 512-byte sectors is what QEMU's default disks
/// and OVMF expect.
pub const SECTOR_BYTES: u64 = 512;

/// One mebibyte, the unit of the config's sizes.
pub const MIB_BYTES: u64 = 1024 * 1024;

/// Partition alignment.
pub const ALIGN_BYTES: u64 = MIB_BYTES;

/// A run of sectors on the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    /// First sector (LBA).
    pub first_lba: u64,
    /// Length in sectors.
    pub sectors: u64,
}

impl Extent {
    /// Byte offset of the first sector.
    pub fn start_bytes(&self) -> u64 {
        self.first_lba * SECTOR_BYTES
    }

    /// Length in bytes.
    pub fn len_bytes(&self) -> u64 {
        self.sectors * SECTOR_BYTES
    }
}

/// The partitions of one image and the disk size that holds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The EFI System Partition, GPT partition 1.
    pub esp: Extent,
    /// The root filesystem partition, GPT partition 2, if `filesystem_size` > 0.
    pub root: Option<Extent>,
    /// Total image size.
    pub disk_bytes: u64,
}

impl Layout {
    /// Lays out the partitions for `general`, or `None` if the sizes overflow a `u64` of
    /// bytes (no real disk is that big).
    pub fn new(general: &General) -> Option<Layout> {
        let sectors_per_mib = MIB_BYTES / SECTOR_BYTES;
        let esp = Extent {
            first_lba: ALIGN_BYTES / SECTOR_BYTES,
            sectors: general.efi_partition_mib.checked_mul(sectors_per_mib)?,
        };
        let mut end_lba = esp.first_lba.checked_add(esp.sectors)?;
        let root = match general.filesystem_mib {
            0 => None,
            mib => {
                let root = Extent { first_lba: end_lba, sectors: mib.checked_mul(sectors_per_mib)? };
                end_lba = root.first_lba.checked_add(root.sectors)?;
                Some(root)
            }
        };
        let disk_bytes = end_lba.checked_mul(SECTOR_BYTES)?.checked_add(ALIGN_BYTES)?;
        Some(Layout { esp, root, disk_bytes })
    }

    /// Number of sectors on the disk.
    pub fn disk_sectors(&self) -> u64 {
        self.disk_bytes / SECTOR_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn general(efi_partition_mib: u64, filesystem_mib: u64) -> General {
        General { efi_partition_mib, filesystem_mib }
    }

    #[test]
    fn esp_only() {
        let layout = Layout::new(&general(16, 0)).unwrap();
        assert_eq!(layout.esp.start_bytes(), MIB_BYTES);
        assert_eq!(layout.esp.len_bytes(), 16 * MIB_BYTES);
        assert_eq!(layout.root, None);
        assert_eq!(layout.disk_bytes, 18 * MIB_BYTES);
    }

    #[test]
    fn root_follows_esp_aligned() {
        let layout = Layout::new(&general(16, 100)).unwrap();
        let root = layout.root.unwrap();
        assert_eq!(root.start_bytes(), 17 * MIB_BYTES);
        assert_eq!(root.start_bytes() % ALIGN_BYTES, 0);
        assert_eq!(root.len_bytes(), 100 * MIB_BYTES);
        assert_eq!(layout.disk_bytes, 118 * MIB_BYTES);
    }

    #[test]
    fn overflow_is_none() {
        assert_eq!(Layout::new(&general(16, u64::MAX / MIB_BYTES)), None);
        assert_eq!(Layout::new(&general(u64::MAX, 0)), None);
    }
}
