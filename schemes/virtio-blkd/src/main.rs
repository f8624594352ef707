//! `virtio-blkd`: the virtio-blk driver daemon, serving `disk:`
//! (docs/drivers.md, "virtio-blkd and `disk:`"; the driver is the
//! library's `driver` module). It must run privileged (`privileged daemon
//! virtio-blkd` in init.rc): without the privilege `pci:` is EPERM and it
//! exits with 1 before registering anything.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
tessera_runtime::entry!(tessera_virtio_blkd::driver::run);

/// On the host the daemon cannot run (its library's tests can: `cargo
/// test -p virtio-blkd`).
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("virtio-blkd runs on Tessera only");
    std::process::exit(2);
}
