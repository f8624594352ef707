//! `virtio-blkd`: a user-space virtio-blk driver serving the `disk:`
//! scheme (docs/drivers.md, "virtio-blkd and `disk:`").
//!
//! ```text
//! driver/    the daemon (Tessera only; main.rs calls driver::run)
//!   mod.rs     finds the devices in pci:, serves disk:
//!   device.rs  one virtio-blk function: virtio-drivers' PciTransport and
//!              VirtQueue, requests waited for on the irq: handle
//!   hal.rs     virtio-drivers' Hal over memory:zeroed?phys_contiguous,
//!              memory:translation and memory:physical@uc; its
//!              ConfigurationAccess over pci:
//!   scheme.rs  disk: over the started devices
//! gpt.rs     the GUID Partition Table: read (CRC-checked), and build (mkgpt)
//! inflight.rs the device's request slots: busy, free, queued writes' failures
//! io.rs      byte offsets over 512-byte sectors, confined to a window
//! list.rs    a queue handle's lists of writes: parsed, joined, queued
//! path.rs    disk: paths
//! ```
//! Everything but `driver/` is host-tested (`cargo test -p virtio-blkd`).
#![cfg_attr(not(any(test, feature = "std")), no_std)]

extern crate alloc;

pub mod gpt;
pub mod inflight;
pub mod io;
pub mod list;
pub mod path;

#[cfg(target_os = "none")]
pub mod driver;
