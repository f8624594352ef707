//! The driver (Tessera only): finds every virtio-blk PCI function in
//! `pci:`, starts it ([`device`], on virtio-drivers through [`hal`]) and
//! serves them as `disk:` ([`scheme`]), forever, one request at a time.
//!
//! Disks are numbered from 0 in `pci:` order; a function that cannot be
//! started is reported and skipped. With no disk at all the scheme is
//! still served (its listing is empty), so `wait-scheme disk` holds.

use alloc::string::String;
use alloc::vec::Vec;

use tessera_runtime::{Args, eprintln, io, println, scheme as serve};

use device::BlkDevice;
use scheme::{Disk, Disks};

mod device;
mod hal;
mod scheme;

/// virtio-blk's PCI device IDs: transitional and modern (Virtio 1.2 §4.1.2.1).
const BLK_DEVICES: [u16; 2] = [0x1001, 0x1042];

/// The addresses of the virtio-blk functions `pci:` lists (a line
/// starts `SSSS:BB:DD.F VVVV:DDDD`).
fn find(listing: &str) -> Vec<&str> {
    listing
        .lines()
        .filter_map(|line| {
            let mut words = line.split(' ');
            let (address, id) = (words.next()?, words.next()?);
            let device = id.strip_prefix("1af4:")?;
            BLK_DEVICES.contains(&u16::from_str_radix(device, 16).ok()?).then_some(address)
        })
        .collect()
}

/// The daemon: `virtio-blkd` takes no arguments. Exits with 1 if `pci:`
/// cannot be read (no privilege) or the scheme stops, 2 for arguments.
pub fn run(args: Args) -> i32 {
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
    for address in find(&listing) {
        match BlkDevice::open(address) {
            Ok(device) => {
                let disk = Disk::new(String::from(address), device);
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
