//! One virtio-blk PCI function (Virtio 1.2 §5.2), driven with
//! virtio-drivers' `PciTransport` (capabilities, feature negotiation,
//! status) and `VirtQueue` (the split ring), and waited for on its
//! interrupt:
//!
//! - **x86_64**: `irq:msi`; its message (`dup(fd, "info")`) goes into
//!   MSI-X table entry 0 and MSI-X is enabled; the request queue's
//!   `queue_msix_vector` (common configuration, offset 0x1A) is set to 0
//!   and configuration changes get no vector (`msix_config` 0xFFFF).
//!   virtio-drivers 0.13 does not expose these registers, so they are
//!   written through a second mapping of the common configuration.
//! - **aarch64**: `irq:pci/SSSS:BB:DD.F`, the function's INTx line; the
//!   ISR status is read after each interrupt (which lowers the line).
//!
//! A request is one descriptor chain in one of the driver's [`SLOTS`]
//! slots: its 16-byte header and status byte in the DMA page, and the data
//! (at most [`BOUNCE`] bytes) in as many pages of the bounce arena as it
//! needs ([`ARENA_PAGES`], given back with the slot). A synchronous
//! request (a read, a write, a flush) first waits for every queued write,
//! then rings the doorbell and blocks in `read` on the irq handle; each
//! wake-up reads the ISR status, acknowledges the count and takes back
//! what the used ring returned, until its own request is back. Nothing
//! polls; such a request waits for (at least) its own interrupt, so
//! `disk:stats` shows an interrupt per request. A *queued* write
//! (docs/drivers.md, "Queued writes") is put in a free slot and not
//! waited for: up to [`SLOTS`] requests are then with the device at once,
//! and one interrupt may bring several back. The doorbell is rung once
//! for all the writes of a list ([`Sectors::kick`]), or before any wait:
//! under QEMU's TCG a doorbell runs the device model on the ringing CPU,
//! so one ring for a list costs one pass over the queue (where QEMU also
//! joins writes to consecutive sectors) instead of one per write. Queued
//! writes are taken back only when something needs them (a free slot,
//! their sectors, their outcome): so they stay with the device together
//! however fast it is, and `disk:stats`' `inflight-max` shows it.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ptr::NonNull;

use crate::gpt::SECTOR;
use crate::inflight::{Arena, Inflight};
use crate::io::{DeviceError, Sectors};
use crate::list::{Part, fill, parts_len};
use bitflags::bitflags;
use tessera_runtime::abi::Error;
use tessera_runtime::abi::O_CLOEXEC;
use tessera_runtime::abi::error::{EINVAL, EIO, ENODEV};
use tessera_runtime::abi::flag::O_RDWR;
use tessera_runtime::mm::PAGE_SIZE;
use tessera_runtime::{Result, sys};
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::pci::bus::{DeviceFunction, PciRoot};
use virtio_drivers::transport::{DeviceType, Transport};

use super::hal::{PciConfig, SystemHal, dma_memory, map_device};

/// Requests the device may have at once (queued writes, docs/drivers.md),
/// each in a slot of its own: a header and status byte in the DMA page,
/// and its data in pages of the bounce arena. A commit of redoxfsd is
/// 5-40 writes, most of them a block: 32 slots take them all at once.
const SLOTS: usize = 32;
/// A slot's part of the DMA page: the 16-byte header, then the status.
const SLOT_HEAD_BYTES: usize = 32;
/// Descriptors in the request queue: a request takes at most 3.
const QUEUE_SIZE: usize = 128;
const _: () = assert!(QUEUE_SIZE >= 3 * SLOTS && SLOTS * SLOT_HEAD_BYTES <= PAGE_SIZE);
/// The largest data transfer of one request.
pub const BOUNCE: usize = 64 * 1024;
/// The bounce arena, after the DMA page: 512 KiB, room for eight requests
/// of [`BOUNCE`] or 128 of a page.
const ARENA_PAGES: usize = 128;
const _: () = assert!(BOUNCE <= ARENA_PAGES * PAGE_SIZE);

bitflags! {
    /// The feature bits this driver accepts (Virtio 1.2 §5.2.3, §6).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Features: u64 {
        /// The device is read-only.
        const RO = 1 << 5;
        /// The cache flush command exists.
        const FLUSH = 1 << 9;
        /// A modern (non-legacy) device.
        const VERSION_1 = 1 << 32;
    }
}

/// Request types (Virtio 1.2 §5.2.6).
const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const T_GET_ID: u32 = 8;

/// Capability IDs and the virtio capability types (Virtio 1.2 §4.1.4).
const CAP_VENDOR: u32 = 0x09;
const CAP_MSIX: u32 = 0x11;
const VIRTIO_COMMON_CFG: u32 = 1;

/// What the daemon counts per device (`disk:stats`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Requests sent to the device.
    pub requests: u64,
    /// Interrupts taken (the counts read from the irq handle).
    pub interrupts: u64,
    /// Requests the device answered with an error status, or that failed.
    pub errors: u64,
    /// Writes queued (also counted in `requests`).
    pub queued: u64,
    /// Times the doorbell was rung.
    pub doorbells: u64,
}

/// A memory BAR: index and address.
type Bar = (u8, u64);

/// A started virtio-blk device.
pub struct BlkDevice {
    transport: PciTransport,
    queue: VirtQueue<SystemHal, QUEUE_SIZE>,
    /// Sectors of 512 bytes.
    pub capacity: u64,
    pub readonly: bool,
    flush: bool,
    /// The irq: handle.
    irq: usize,
    /// How the interrupt arrives, for the listing (`msi-x:0x31`, `intx:37`).
    pub irq_kind: String,
    /// The DMA page (slot `i`'s header at 32 * `i`, its status 16 bytes
    /// on) followed by the bounce arena.
    dma: usize,
    /// Each slot's request.
    meta: [Request; SLOTS],
    inflight: Inflight<SLOTS>,
    /// The bounce arena's pages taken, by the slots whose `meta` says
    /// `held`.
    arena: Arena,
    /// Requests were added to the queue since the doorbell last rang.
    unrung: bool,
    pub stats: Stats,
}

/// Parses `SSSS:BB:DD.F`.
fn function(address: &str) -> Option<DeviceFunction> {
    let mut parts = address.split([':', '.']);
    let (_segment, bus, device, function) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str| u8::from_str_radix(s, 16).ok();
    Some(DeviceFunction { bus: hex(bus)?, device: hex(device)?, function: hex(function)? })
}

fn errno(e: i32) -> Error {
    Error::new(e)
}

/// The capability offsets of `id` in the function's capability list.
fn capabilities(config: &PciConfig, id: u32) -> Vec<u16> {
    let mut found = Vec::new();
    let mut at = (config.read(0x34) & 0xFC) as u16;
    for _ in 0..48 {
        if at == 0 {
            break;
        }
        let header = config.read(at);
        if header & 0xFF == id {
            found.push(at);
        }
        at = ((header >> 8) & 0xFC) as u16;
    }
    found
}

/// Where `bar` + `offset` lies in physical memory.
fn bar_address(bars: &[Bar], bar: u8, offset: u32) -> Option<u64> {
    bars.iter().find(|b| b.0 == bar && b.1 != 0).map(|b| b.1 + u64::from(offset))
}

/// The function's memory BARs, as virtio-drivers reads them (it sizes
/// each with decoding off for the moment).
fn memory_bars(root: &mut PciRoot<PciConfig>, df: DeviceFunction) -> Result<Vec<Bar>> {
    let bars = root.bars(df).map_err(|_| errno(ENODEV))?;
    Ok(bars.iter().enumerate().filter_map(|(i, bar)| Some((i as u8, bar.as_ref()?.memory_address_size()?.0))).collect())
}

impl BlkDevice {
    /// Starts the virtio-blk function at `address` (`SSSS:BB:DD.F`):
    /// decoding and bus mastering on, its interrupt opened (and on x86_64
    /// its MSI-X entry programmed), features negotiated, the request
    /// queue set up.
    pub fn open(address: &str) -> Result<Self> {
        let df = function(address).ok_or(errno(EINVAL))?;
        let config = PciConfig::open(address, df)?;
        // Command register: memory space (bit 1) and bus master (bit 2).
        config.write(0x04, (config.read(0x04) & 0xFFFF) | 0b110)?;
        // virtio-drivers' view of the same function, on a handle of its own.
        let mut root = PciRoot::new(PciConfig::open(address, df)?);
        let bars = memory_bars(&mut root, df)?;
        let (irq, irq_kind) = open_irq(address, &config, &bars)?;
        let mut device = Self::start(&config, root, df, &bars, irq).inspect_err(|_| {
            let _ = sys::close(irq);
        })?;
        device.irq_kind = irq_kind;
        Ok(device)
    }

    fn start(
        config: &PciConfig,
        mut root: PciRoot<PciConfig>,
        df: DeviceFunction,
        bars: &[Bar],
        irq: usize,
    ) -> Result<Self> {
        // The common configuration, for the MSI-X vector (x86_64).
        let common = capabilities(config, CAP_VENDOR)
            .into_iter()
            .find(|&at| (config.read(at) >> 24) & 0xFF == VIRTIO_COMMON_CFG)
            .and_then(|at| bar_address(bars, (config.read(at + 4) & 0xFF) as u8, config.read(at + 8)));
        let mut transport = PciTransport::new::<SystemHal, _>(&mut root, df).map_err(|_| errno(ENODEV))?;
        drop(root);
        if transport.device_type() != DeviceType::Block {
            return Err(errno(ENODEV));
        }
        let features = transport.begin_init(Features::all());
        let capacity = transport
            .read_consistent(|| {
                let low: u32 = transport.read_config_space(0)?;
                let high: u32 = transport.read_config_space(4)?;
                Ok(u64::from(low) | (u64::from(high) << 32))
            })
            .map_err(|_| errno(EIO))?;
        let queue = VirtQueue::new(&mut transport, 0, false, false).map_err(|_| errno(EIO))?;
        if cfg!(target_arch = "x86_64") {
            let common = common.ok_or(errno(ENODEV))?;
            set_queue_vector(common)?;
        }
        transport.finish_init();
        let (dma, _) = dma_memory(PAGE_SIZE + ARENA_PAGES * PAGE_SIZE)?;
        Ok(Self {
            transport,
            queue,
            capacity,
            readonly: features.contains(Features::RO),
            flush: features.contains(Features::FLUSH),
            irq,
            irq_kind: String::new(),
            dma,
            meta: [Request::default(); SLOTS],
            inflight: Inflight::default(),
            arena: Arena::new(ARENA_PAGES),
            unrung: false,
            stats: Stats::default(),
        })
    }

    /// The device's ID string (`VIRTIO_BLK_T_GET_ID`: QEMU's `serial=`),
    /// empty if it has none.
    pub fn id(&mut self) -> String {
        let mut id = [0u8; 20];
        match self.request(T_GET_ID, 0, Data::In(&mut id)) {
            Ok(()) => {
                let len = id.iter().position(|&b| b == 0).unwrap_or(id.len());
                String::from_utf8_lossy(&id[..len]).into_owned()
            }
            Err(_) => String::new(),
        }
    }

    /// Writes the device's volatile cache to its medium
    /// (`VIRTIO_BLK_T_FLUSH`). Without the FLUSH feature the device has no
    /// volatile cache to write (Virtio 1.2 §5.2.6.2), and there is nothing
    /// to do.
    pub fn flush(&mut self) -> core::result::Result<(), DeviceError> {
        if self.flush { self.request(T_FLUSH, 0, Data::None) } else { Ok(()) }
    }

    /// Sends one request and waits for the device to return it. Queued
    /// writes go first: a read sees them, a write or flush comes after.
    fn request(&mut self, kind: u32, sector: u64, mut data: Data<'_>) -> core::result::Result<(), DeviceError> {
        self.stats.requests += 1;
        let result = self.exchange(kind, sector, &mut data);
        if result.is_err() {
            self.stats.errors += 1;
        }
        result
    }

    fn exchange(&mut self, kind: u32, sector: u64, data: &mut Data<'_>) -> core::result::Result<(), DeviceError> {
        self.wait_until(|d| d.inflight.queued() == 0)?;
        let slot = self.submit(kind, sector, data, false)?;
        let waited = self.wait_for(slot);
        // Taken even when waiting failed (the request was given up): the
        // slot is free again either way, its pages once read.
        let ok = self.inflight.result(slot) == Some(true);
        if let (Data::In(buf), Ok(()), true) = (data, waited, ok) {
            // SAFETY: the device is done with the slot (its request came
            // back) and nothing else refers to it.
            let (_, _, bounce) = unsafe { slot_buffers(self.dma, slot, self.meta[slot]) };
            buf.copy_from_slice(bounce);
        }
        self.release_free();
        waited?;
        if !ok {
            return Err(DeviceError);
        }
        Ok(())
    }

    /// Gives the bounce pages of every slot that is free again back to
    /// the arena.
    fn release_free(&mut self) {
        for (slot, request) in self.meta.iter_mut().enumerate() {
            if request.held && self.inflight.is_free(slot) {
                self.arena.give(request.page, request.pages());
                request.held = false;
            }
        }
    }

    /// Queues a write of `data` (at most [`BOUNCE`] bytes) at `sector`: it
    /// goes to the device in a free slot (once one is free) and is not
    /// waited for. [`Self::wait_queued`] says whether it failed.
    ///
    /// The device may carry out the requests it has in any order (Virtio
    /// 1.2 §2.7.13), so a queued write over sectors that one in flight
    /// also writes waits for that one first: the later bytes land last.
    fn queue(&mut self, sector: u64, data: &mut Data<'_>) -> core::result::Result<(), DeviceError> {
        self.stats.requests += 1;
        self.stats.queued += 1;
        let end = sector + (data.len() / SECTOR) as u64;
        self.wait_until(|d| d.inflight.free().is_some() && !d.overlaps_inflight(sector, end))?;
        self.submit(T_OUT, sector, data, true).map(|_| ())
    }

    /// Whether a request the device has touches sectors `first..end`.
    fn overlaps_inflight(&self, first: u64, end: u64) -> bool {
        (0..SLOTS).any(|slot| {
            let Request { sector: at, len, .. } = self.meta[slot];
            self.inflight.is_busy(slot) && at < end && first < at + (len / SECTOR) as u64
        })
    }

    /// Waits until every queued write is back: `Err` if any of them failed
    /// since the last call (each failure is reported once).
    pub fn wait_queued(&mut self) -> core::result::Result<(), DeviceError> {
        self.wait_until(|d| d.inflight.queued() == 0)?;
        if self.inflight.take_failures() > 0 { Err(DeviceError) } else { Ok(()) }
    }

    /// The most requests the device had at once.
    pub fn inflight_peak(&self) -> usize {
        self.inflight.peak()
    }

    /// Puts a request in a free slot (waiting for one if none is) and
    /// rings the doorbell: the slot.
    fn submit(
        &mut self,
        kind: u32,
        sector: u64,
        data: &mut Data<'_>,
        queued: bool,
    ) -> core::result::Result<usize, DeviceError> {
        let len = data.len();
        if len > BOUNCE {
            return Err(DeviceError);
        }
        let pages = len.div_ceil(PAGE_SIZE);
        self.wait_until(|d| d.inflight.free().is_some() && d.arena.fits(pages))?;
        let slot = self.inflight.free().ok_or(DeviceError)?;
        let page = self.arena.take(pages).ok_or(DeviceError)?;
        self.meta[slot] = Request { kind, sector, len, page, held: true };
        // SAFETY: a free slot and pages just taken: the device has none of
        // them, and nothing else refers to them.
        let (head, status, bounce) = unsafe { slot_buffers(self.dma, slot, self.meta[slot]) };
        head[..4].copy_from_slice(&kind.to_le_bytes());
        head[4..8].fill(0);
        head[8..].copy_from_slice(&sector.to_le_bytes());
        status[0] = 0xFF;
        match data {
            Data::Out(buf) => bounce.copy_from_slice(buf),
            Data::Parts { parts, at, .. } => fill(parts, *at, bounce),
            Data::None | Data::In(_) => {}
        }
        // SAFETY: the slot's buffers, filled above and no longer referred
        // to; they stay mapped and untouched until the matching `pop_used`
        // in `reap`.
        let added = unsafe {
            let (inputs, mut outputs) = chain(self.dma, slot, self.meta[slot]);
            self.queue.add(&inputs, &mut outputs)
        };
        let Ok(token) = added else {
            self.release_free();
            return Err(DeviceError);
        };
        self.inflight.start(slot, token, queued);
        self.unrung = true;
        if !queued {
            self.ring();
        }
        Ok(slot)
    }

    /// Rings the doorbell if requests were added since it last rang (and
    /// the device has not said it needs no notification).
    fn ring(&mut self) {
        if core::mem::take(&mut self.unrung) && self.queue.should_notify() {
            self.stats.doorbells += 1;
            self.transport.notify(0);
        }
    }

    /// Takes back every request the device is done with: whether there
    /// was any.
    fn reap(&mut self) -> core::result::Result<bool, DeviceError> {
        let mut taken = false;
        while let Some(token) = self.queue.peek_used() {
            taken = true;
            let slot = self.inflight.slot_of(token).ok_or(DeviceError)?;
            // SAFETY: the same buffers as were added with `token`; the
            // status is read after the device gave the request back.
            let ok = unsafe {
                {
                    let (inputs, mut outputs) = chain(self.dma, slot, self.meta[slot]);
                    self.queue.pop_used(token, &inputs, &mut outputs).map_err(|_| DeviceError)?;
                }
                slot_buffers(self.dma, slot, self.meta[slot]).1[0] == 0
            };
            if !ok && self.inflight.is_queued(slot) {
                self.stats.errors += 1;
            }
            self.inflight.finish(slot, ok);
        }
        self.release_free();
        Ok(taken)
    }

    /// Returns once `done` holds: if it does not yet, takes back what the
    /// device is done with, and waits for an interrupt each time that is
    /// not enough. Queued writes are taken back only here, when something
    /// needs them back (a slot, their sectors, their outcome), so they stay
    /// with the device together. If waiting fails every request in flight
    /// is given up as failed.
    fn wait_until(&mut self, done: impl Fn(&Self) -> bool) -> core::result::Result<(), DeviceError> {
        loop {
            if done(self) {
                return Ok(());
            }
            let taken = self.reap()?;
            if done(self) {
                if taken {
                    // Their interrupt stays counted for the next wait, but
                    // reading the ISR status lowers an INTx line: one this
                    // driver shares is not left asserted meanwhile.
                    let _ = self.transport.ack_interrupt();
                }
                return Ok(());
            }
            self.wait_or_abandon()?;
        }
    }

    /// Waits for the synchronous request in `slot`: for an interrupt
    /// first, then for as many as it takes. Every completion interrupts (no
    /// suppression is negotiated) and only a wait takes an interrupt, so
    /// the request's own is still to come or pending: each synchronous
    /// request takes at least one interrupt, and none is left for the next.
    fn wait_for(&mut self, slot: usize) -> core::result::Result<(), DeviceError> {
        loop {
            self.wait_or_abandon()?;
            self.reap()?;
            if self.inflight.result_ready(slot) {
                return Ok(());
            }
        }
    }

    fn wait_or_abandon(&mut self) -> core::result::Result<(), DeviceError> {
        self.wait_interrupt().inspect_err(|_| {
            self.inflight.abandon();
            self.release_free();
        })
    }

    /// Blocks until the device interrupts (the irq handle's count is
    /// nonzero), then reads the ISR status (which lowers an INTx line) and
    /// acknowledges the count.
    fn wait_interrupt(&mut self) -> core::result::Result<(), DeviceError> {
        // Nothing added without a ring may be waited for.
        self.ring();
        let mut count = [0u8; 8];
        sys::read(self.irq, &mut count).map_err(|_| DeviceError)?;
        let _ = self.transport.ack_interrupt();
        sys::write(self.irq, &count).map_err(|_| DeviceError)?;
        self.stats.interrupts += u64::from_ne_bytes(count);
        Ok(())
    }
}

/// A slot's request: its type, first sector and data length, the first
/// page of its data in the bounce arena, and whether it holds those pages.
#[derive(Clone, Copy, Debug, Default)]
struct Request {
    kind: u32,
    sector: u64,
    len: usize,
    page: usize,
    held: bool,
}

impl Request {
    /// The arena pages its data takes.
    fn pages(&self) -> usize {
        self.len.div_ceil(PAGE_SIZE)
    }
}

/// Slot `slot`'s header and status byte, and `request`'s data in the
/// bounce arena, in the DMA memory at `dma` (`PAGE_SIZE` and
/// [`ARENA_PAGES`] pages).
///
/// # Safety
/// `dma` is the driver's DMA memory. The three slices overlap nothing
/// else: slot `slot`'s header (16 bytes at 32 * `slot`), status (the byte
/// after it) and the request's arena pages (`request.page` on, after the
/// DMA page), which the slot holds. The caller makes no other reference to
/// them while these live, and hands them to the device only between `add`
/// and `pop_used`.
unsafe fn slot_buffers<'a>(dma: usize, slot: usize, request: Request) -> (&'a mut [u8], &'a mut [u8], &'a mut [u8]) {
    let Request { len, page, .. } = request;
    assert!(slot < SLOTS && len <= BOUNCE && page * PAGE_SIZE + len <= ARENA_PAGES * PAGE_SIZE);
    let head = dma + SLOT_HEAD_BYTES * slot;
    // SAFETY: as the caller promises, inside the mapping (asserted above).
    unsafe {
        (
            core::slice::from_raw_parts_mut(head as *mut u8, 16),
            core::slice::from_raw_parts_mut((head + 16) as *mut u8, 1),
            core::slice::from_raw_parts_mut((dma + PAGE_SIZE + page * PAGE_SIZE) as *mut u8, len),
        )
    }
}

/// The descriptor chain of `request` in `slot`: the header (and for a
/// write the data) for the device to read; the data of a read and the
/// status for it to write.
///
/// # Safety
/// As [`slot_buffers`].
unsafe fn chain<'a>(dma: usize, slot: usize, request: Request) -> (Vec<&'a [u8]>, Vec<&'a mut [u8]>) {
    // SAFETY: passed on from the caller.
    let (head, status, bounce) = unsafe { slot_buffers(dma, slot, request) };
    match (request.len, request.kind == T_OUT) {
        (0, _) => (alloc::vec![&*head], alloc::vec![status]),
        (_, true) => (alloc::vec![&*head, &*bounce], alloc::vec![status]),
        (_, false) => (alloc::vec![&*head], alloc::vec![bounce, status]),
    }
}

/// A request's data: none, read from the device into the buffer, or
/// written to it from the buffer or from `len` bytes of a queued write's
/// parts at byte `at` (its zeros written into the bounce buffer here).
enum Data<'a> {
    None,
    In(&'a mut [u8]),
    Out(&'a [u8]),
    Parts { parts: &'a [Part<'a>], at: usize, len: usize },
}

impl Data<'_> {
    /// The request's data bytes.
    fn len(&self) -> usize {
        match self {
            Data::None => 0,
            Data::In(buf) => buf.len(),
            Data::Out(buf) => buf.len(),
            Data::Parts { len, .. } => *len,
        }
    }
}

impl Sectors for BlkDevice {
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> core::result::Result<(), DeviceError> {
        check_range(self.capacity, lba, buf.len())?;
        for (i, chunk) in buf.chunks_mut(BOUNCE).enumerate() {
            self.request(T_IN, lba + (i * BOUNCE / SECTOR) as u64, Data::In(chunk))?;
        }
        Ok(())
    }

    fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> core::result::Result<(), DeviceError> {
        check_range(self.capacity, lba, buf.len())?;
        for (i, chunk) in buf.chunks(BOUNCE).enumerate() {
            self.request(T_OUT, lba + (i * BOUNCE / SECTOR) as u64, Data::Out(chunk))?;
        }
        Ok(())
    }

    fn queue_sectors(&mut self, lba: u64, parts: &[Part<'_>]) -> core::result::Result<(), DeviceError> {
        let len = parts_len(parts);
        check_range(self.capacity, lba, len)?;
        for at in (0..len).step_by(BOUNCE) {
            let chunk = (len - at).min(BOUNCE);
            self.queue(lba + (at / SECTOR) as u64, &mut Data::Parts { parts, at, len: chunk })?;
        }
        Ok(())
    }

    fn kick(&mut self) {
        self.ring();
    }
}

/// Whole sectors inside the device.
fn check_range(capacity: u64, lba: u64, len: usize) -> core::result::Result<(), DeviceError> {
    let sectors = (len / SECTOR) as u64;
    if len == 0 || !len.is_multiple_of(SECTOR) || lba.checked_add(sectors).is_none_or(|end| end > capacity) {
        return Err(DeviceError);
    }
    Ok(())
}

/// Opens the function's interrupt: on x86_64 an MSI vector, programmed
/// into MSI-X entry 0 (MSI-X then enabled); on aarch64 its INTx line.
fn open_irq(address: &str, config: &PciConfig, bars: &[Bar]) -> Result<(usize, String)> {
    if cfg!(target_arch = "aarch64") {
        let fd = sys::open(&format!("irq:pci/{address}"), O_RDWR | O_CLOEXEC)?;
        let kind = irq_info(fd).map(|i| format!("intx:{}", i.0)).unwrap_or_default();
        return Ok((fd, kind));
    }
    let fd = sys::open("irq:msi", O_RDWR | O_CLOEXEC)?;
    let programmed = irq_info(fd).and_then(|(id, message)| {
        let (address, data) = message.ok_or(errno(EINVAL))?;
        program_msix(config, bars, address, data)?;
        Ok(format!("msi-x:{id}"))
    });
    match programmed {
        Ok(kind) => Ok((fd, kind)),
        Err(e) => {
            let _ = sys::close(fd);
            Err(e)
        }
    }
}

/// The irq handle's `info`: its id, and for an MSI its address and data.
fn irq_info(fd: usize) -> Result<(String, Option<(u64, u32)>)> {
    let info = sys::dup_named(fd, b"info")?;
    let mut text = [0u8; 128];
    let n = sys::read(info, &mut text);
    let _ = sys::close(info);
    let text = String::from_utf8_lossy(&text[..n?]).into_owned();
    let field =
        |name: &str| text.split_whitespace().find_map(|w| w.strip_prefix(name)?.strip_prefix('=')).map(String::from);
    let hex = |s: String| u64::from_str_radix(s.strip_prefix("0x")?, 16).ok();
    let id = field("id").unwrap_or_default();
    let message = match (field("msi-address").and_then(hex), field("msi-data").and_then(hex)) {
        (Some(address), Some(data)) => Some((address, data as u32)),
        _ => None,
    };
    Ok((id, message))
}

/// Writes MSI-X table entry 0 (PCI Local Bus 3.0 §6.8.2: address low,
/// high, data, vector control 0 = unmasked) and enables MSI-X (message
/// control bit 15, function mask bit 14 clear).
fn program_msix(config: &PciConfig, bars: &[Bar], address: u64, data: u32) -> Result<()> {
    let at = *capabilities(config, CAP_MSIX).first().ok_or(errno(ENODEV))?;
    let table = config.read(at + 4);
    let entry = bar_address(bars, (table & 7) as u8, table & !7).ok_or(errno(ENODEV))?;
    let entry = map_device(entry, 16)?;
    let words = [address as u32, (address >> 32) as u32, data, 0];
    for (i, word) in words.into_iter().enumerate() {
        // SAFETY: the entry's 16 bytes were just mapped uncached; 4-aligned.
        unsafe { core::ptr::write_volatile((entry + 4 * i) as *mut u32, word) };
    }
    let header = config.read(at);
    let control = ((header >> 16) | 1 << 15) & !(1 << 14);
    config.write(at, (header & 0xFFFF) | (control << 16))
}

/// Points the request queue (0) at MSI-X entry 0 and gives configuration
/// changes no vector, through the common configuration at `common`
/// (Virtio 1.2 §4.1.4.3). The device answers 0xFFFF (NO_VECTOR) if it
/// refuses: ENODEV.
fn set_queue_vector(common: u64) -> Result<()> {
    let base = map_device(common, 0x38)?;
    let reg = |offset: usize| NonNull::new((base + offset) as *mut u16);
    let (Some(msix_config), Some(select), Some(vector)) = (reg(0x10), reg(0x16), reg(0x1A)) else {
        return Err(errno(EINVAL));
    };
    // SAFETY: 2-aligned registers of the common configuration this
    // function just mapped uncached.
    let read_back = unsafe {
        msix_config.write_volatile(0xFFFF);
        select.write_volatile(0);
        vector.write_volatile(0);
        vector.read_volatile()
    };
    if read_back != 0 {
        return Err(errno(ENODEV));
    }
    Ok(())
}
