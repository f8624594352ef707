//! `virtio-blkd`: a user-space virtio-blk driver serving the `disk:`
//! scheme (docs/drivers.md, "virtio-blkd and `disk:`").
//!
//! ```text
//! main.rs   the daemon: finds the devices in pci:, serves disk:
//!   device.rs  one virtio-blk function: virtio-drivers' PciTransport and
//!              VirtQueue, requests waited for on the irq: handle
//!   hal.rs     virtio-drivers' Hal over memory:zeroed?phys_contiguous,
//!              memory:translation and memory:physical@uc; its
//!              ConfigurationAccess over pci:
//! lib.rs    (this crate, host-tested)
//!   gpt.rs     the GUID Partition Table: read (CRC-checked), and build (mkgpt)
//!   io.rs      byte offsets over 512-byte sectors, confined to a window
//!   path.rs    disk: paths
//! ```
#![cfg_attr(not(any(test, feature = "std")), no_std)]

extern crate alloc;

pub mod gpt;
pub mod io;
pub mod path;
