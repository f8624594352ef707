//! `virtio-blkd`: finds every virtio-blk PCI function in `pci:`, starts it
//! (device.rs) and serves them as `disk:`, forever, one request at a time
//! (docs/drivers.md, "virtio-blkd and `disk:`"). It must run privileged
//! (`privileged daemon virtio-blkd` in init.rc): without the privilege
//! `pci:` is EPERM and it exits with 1 before registering anything.
//!
//! Disks are numbered from 0 in `pci:` order; a function that cannot be
//! started is reported and skipped. With no disk at all the scheme is
//! still served (its listing is empty), so `wait-scheme disk` holds.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod device;
#[cfg(target_os = "none")]
mod hal;
#[cfg(target_os = "none")]
mod scheme;

#[cfg(target_os = "none")]
mod daemon {
    use alloc::string::String;
    use alloc::vec::Vec;

    use tessera_runtime::{Args, eprintln, io, println, scheme as serve};

    use crate::device::{Bar, BlkDevice};
    use crate::scheme::{Disk, Disks};

    tessera_runtime::entry!(main);

    /// virtio-blk's PCI device IDs: transitional and modern (Virtio 1.2 §4.1.2.1).
    const BLK_DEVICES: [u16; 2] = [0x1001, 0x1042];

    /// The virtio-blk functions `pci:` lists: address and memory BARs.
    fn find(listing: &str) -> Vec<(String, Vec<Bar>)> {
        listing
            .lines()
            .filter_map(|line| {
                let mut words = line.split(' ');
                let address = words.next()?;
                let (vendor, device) = words.next()?.split_once(':')?;
                if u16::from_str_radix(vendor, 16).ok()? != 0x1AF4
                    || !BLK_DEVICES.contains(&u16::from_str_radix(device, 16).ok()?)
                {
                    return None;
                }
                let bars = words
                    .filter_map(|w| {
                        let (name, value) = w.split_once('=')?;
                        let index = name.strip_prefix("bar")?.parse().ok()?;
                        let mut parts = value.split(':');
                        let kind = parts.next()?;
                        let hex = |s: &str| u64::from_str_radix(s.strip_prefix("0x")?, 16).ok();
                        let (base, size) = (hex(parts.next()?)?, hex(parts.next()?)?);
                        kind.starts_with("mem").then_some((index, base, size))
                    })
                    .collect();
                Some((String::from(address), bars))
            })
            .collect()
    }

    fn main(args: Args) -> i32 {
        if args.argv().len() != 1 {
            eprintln!("usage: virtio-blkd");
            return 2;
        }
        let listing = match io::read_file("pci:") {
            Ok(text) => String::from_utf8_lossy(&text).into_owned(),
            Err(e) => {
                eprintln!("virtio-blkd: cannot read pci: ({e}); a driver runs privileged");
                return 1;
            }
        };
        let mut disks = Vec::new();
        for (address, bars) in find(&listing) {
            match BlkDevice::open(&address, &bars) {
                Ok(device) => {
                    let disk = Disk::new(address, device);
                    println!("virtio-blkd: disk:{} {}", disks.len(), disk.describe());
                    disks.push(disk);
                }
                Err(e) => eprintln!("virtio-blkd: {address}: cannot start the device: {e}"),
            }
        }
        if disks.is_empty() {
            println!("virtio-blkd: no virtio-blk device; disk: lists none");
        }
        let error = serve::serve("disk", &mut Disks::new(disks));
        eprintln!("virtio-blkd: serving disk: stopped: {error} (errno {})", error.errno);
        1
    }
}

/// On the host the daemon cannot run (its library's tests can: `cargo
/// test -p virtio-blkd`).
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("virtio-blkd runs on Tessera only");
    std::process::exit(2);
}
