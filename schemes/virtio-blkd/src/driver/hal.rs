//! What virtio-drivers needs from the system, over the kernel's driver
//! interfaces (docs/drivers.md):
//!
//! - [`SystemHal`] (virtio-drivers' `Hal`): `dma_alloc` maps
//!   `memory:zeroed?phys_contiguous` and asks `memory:translation` for the
//!   first page's physical address (the rest follow it: the frames are
//!   consecutive); `mmio_phys_to_virt` maps `memory:physical@uc`; `share`
//!   and `unshare` are the identity, as both machines' DMA is
//!   cache-coherent — `share` only translates, by finding the buffer in
//!   the DMA regions handed out (every buffer this driver gives the
//!   device lives in one: its queues and its bounce buffer).
//! - [`PciConfig`] (virtio-drivers' `ConfigurationAccess`): 4-byte reads
//!   and writes of the function's `pci:SSSS:BB:DD.F` configuration space.
//!
//! The Hal's calls cannot return errors; a failure is a panic with the
//! reason (the daemon then exits and init reports it). None of them is
//! reachable by a client's request: they run while a device is set up,
//! or with this driver's own buffers.

use alloc::vec::Vec;
use core::cell::RefCell;
use core::ptr::NonNull;

use tessera_runtime::abi::O_CLOEXEC;
use tessera_runtime::abi::flag::{O_RDWR, SEEK_SET};
use tessera_runtime::mm::{self, MAP_SHARED, PAGE_SIZE, PROT_RW};
use tessera_runtime::{Result, sys};
use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction};
use virtio_drivers::{BufferDirection, Hal, PhysAddr};

/// A DMA region handed out: virtual address, physical address, bytes.
#[derive(Clone, Copy)]
struct Region {
    virt: usize,
    phys: u64,
    len: usize,
}

/// The daemon is one thread; the Hal's functions take no `self`, so the
/// regions live in a static.
struct Regions(RefCell<Vec<Region>>);

// SAFETY: the daemon never starts a second thread, so the cell is only
// ever touched by one.
unsafe impl Sync for Regions {}

static REGIONS: Regions = Regions(RefCell::new(Vec::new()));

/// Opens `path` close-on-exec, read-write.
fn open(path: &str) -> Result<usize> {
    sys::open(path, O_RDWR | O_CLOEXEC)
}

/// `len` bytes of new, physically contiguous, zeroed memory: (virtual,
/// physical).
pub fn dma_memory(len: usize) -> Result<(usize, u64)> {
    let fd = open("memory:zeroed?phys_contiguous")?;
    // SAFETY: not MAP_FIXED: the new mapping replaces nothing.
    let virt = unsafe { mm::mmap(0, len, PROT_RW, MAP_SHARED, fd, 0) };
    let _ = sys::close(fd);
    let virt = virt?;
    let phys = translate(virt);
    match phys {
        Ok(phys) => {
            REGIONS.0.borrow_mut().push(Region { virt, phys, len });
            Ok((virt, phys))
        }
        Err(e) => {
            // SAFETY: the mapping was just made and nothing uses it.
            let _ = unsafe { mm::munmap(virt, len) };
            Err(e)
        }
    }
}

/// The physical address behind `virt` (`memory:translation`).
fn translate(virt: usize) -> Result<u64> {
    let fd = open("memory:translation")?;
    let result = sys::write(fd, &(virt as u64).to_ne_bytes()).and_then(|_| {
        let mut out = [0u8; 8];
        sys::read(fd, &mut out).map(|_| u64::from_ne_bytes(out))
    });
    let _ = sys::close(fd);
    result
}

/// Maps `size` bytes of device memory at `phys` uncached
/// (`memory:physical@uc`): the address of `phys` in this process.
pub fn map_device(phys: u64, size: usize) -> Result<usize> {
    let base = phys & !(PAGE_SIZE as u64 - 1);
    let within = (phys - base) as usize;
    let len = (within + size.max(1)).next_multiple_of(PAGE_SIZE);
    let fd = open("memory:physical@uc")?;
    // SAFETY: not MAP_FIXED: the new mapping replaces nothing.
    let virt = unsafe { mm::mmap(0, len, PROT_RW, MAP_SHARED, fd, base as usize) };
    let _ = sys::close(fd);
    Ok(virt? + within)
}

/// virtio-drivers' `Hal` over the kernel's driver interfaces.
pub struct SystemHal;

// SAFETY: `dma_alloc` returns zeroed, physically contiguous memory mapped
// for as long as it is not deallocated, with its true physical address;
// `mmio_phys_to_virt` maps exactly the device memory asked for; `share`
// returns the physical address of the buffer, which lies in such DMA
// memory (or the call panics).
unsafe impl Hal for SystemHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        match dma_memory(pages * PAGE_SIZE) {
            Ok((virt, phys)) => match NonNull::new(virt as *mut u8) {
                Some(ptr) => (phys, ptr),
                None => panic!("virtio-blkd: DMA memory mapped at 0"),
            },
            Err(e) => panic!("virtio-blkd: no DMA memory for {pages} pages: {e}"),
        }
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        let virt = vaddr.as_ptr() as usize;
        REGIONS.0.borrow_mut().retain(|r| !(r.virt == virt && r.phys == paddr));
        // SAFETY: the caller gives back memory `dma_alloc` mapped, which
        // the device no longer uses.
        match unsafe { mm::munmap(virt, pages * PAGE_SIZE) } {
            Ok(()) => 0,
            Err(_) => -1,
        }
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        match map_device(paddr, size).map(|virt| NonNull::new(virt as *mut u8)) {
            Ok(Some(ptr)) => ptr,
            Ok(None) => panic!("virtio-blkd: device memory mapped at 0"),
            Err(e) => panic!("virtio-blkd: cannot map device memory {paddr:#x}: {e}"),
        }
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        let (virt, len) = (buffer.as_ptr() as *mut u8 as usize, buffer.len());
        let regions = REGIONS.0.borrow();
        match regions.iter().find(|r| virt >= r.virt && virt + len <= r.virt + r.len) {
            Some(r) => r.phys + (virt - r.virt) as u64,
            None => panic!("virtio-blkd: a buffer outside DMA memory given to the device ({virt:#x}, {len} bytes)"),
        }
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// One function's configuration space through `pci:SSSS:BB:DD.F`. Other
/// functions read as absent (all ones) and ignore writes: virtio-drivers
/// only asks about the function it was given.
pub struct PciConfig {
    fd: usize,
    function: DeviceFunction,
}

impl PciConfig {
    /// Opens the configuration space of the function at `address`
    /// (`SSSS:BB:DD.F`, as `pci:` lists it).
    pub fn open(address: &str, function: DeviceFunction) -> Result<Self> {
        Ok(Self { fd: open(&alloc::format!("pci:{address}"))?, function })
    }

    /// The 4-byte word at `offset`, or all ones if the read fails.
    pub fn read(&self, offset: u16) -> u32 {
        let mut word = [0xFF; 4];
        match sys::lseek(self.fd, offset as isize, SEEK_SET).and_then(|_| sys::read(self.fd, &mut word)) {
            Ok(4) => u32::from_le_bytes(word),
            _ => u32::MAX,
        }
    }

    /// Writes the 4-byte word at `offset`.
    pub fn write(&self, offset: u16, value: u32) -> Result<()> {
        sys::lseek(self.fd, offset as isize, SEEK_SET)?;
        sys::write(self.fd, &value.to_le_bytes()).map(|_| ())
    }
}

impl Drop for PciConfig {
    fn drop(&mut self) {
        let _ = sys::close(self.fd);
    }
}

impl ConfigurationAccess for PciConfig {
    fn read_word(&self, device_function: DeviceFunction, register_offset: u8) -> u32 {
        if device_function != self.function {
            return u32::MAX;
        }
        self.read(u16::from(register_offset))
    }

    fn write_word(&mut self, device_function: DeviceFunction, register_offset: u8, data: u32) {
        if device_function == self.function {
            let _ = self.write(u16::from(register_offset), data);
        }
    }

    unsafe fn unsafe_clone(&self) -> Self {
        // A second handle on the same function (virtio-drivers clones only
        // to enumerate, which this driver does not use).
        match sys::dup(self.fd) {
            Ok(fd) => Self { fd, function: self.function },
            Err(e) => panic!("virtio-blkd: cannot duplicate a pci: handle: {e}"),
        }
    }
}
