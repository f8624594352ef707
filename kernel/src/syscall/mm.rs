//! Memory calls: `fmap` (mmap), `funmap` (munmap), `mprotect`, `mremap`,
//! `madvise`, `msync`. Each converts Redox's flags (kernel/abi `mm`) to
//! `tessera-mm`'s, runs the operation on the caller's address space
//! ([`crate::mm::UserSpace::run`]: TLB shootdown, then frames released) and
//! turns its error into the Linux errno. Every operation is all or nothing.

use alloc::sync::Arc;
use tessera_abi::Map;
use tessera_abi::error::{EACCES, EINVAL, ENOMEM, EOPNOTSUPP, EOVERFLOW, Error, Result};
use tessera_abi::mm::{ANONYMOUS_FD, MAP_GROWSDOWN, MAP_POPULATE, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE};

use rmm::{PAGE_SIZE, VirtAddr};
use tessera_abi::flag::{self, MremapFlags, O_ACCMODE, O_WRONLY};
use tessera_mm::{
    Access, FileGrowth, MapFlags, MapSource, MemObject, MmError, MmapRequest, MsyncFlags, Prot, RemapFlags,
};

use super::with_space;
use crate::file::Description;
use crate::mm::{KernelFrames, fmap, grant_errno, page_fault};
use crate::process;
use crate::scheme::MemorySource;
use crate::usercopy::UserSlice;

/// Redox's `MapFlags` (`tessera-abi`, `flag`): PROT_* and MAP_* bits in one word.
type RedoxMapFlags = flag::MapFlags;
/// The PROT_* bits.
const PROT_MASK: RedoxMapFlags =
    RedoxMapFlags::PROT_READ.union(RedoxMapFlags::PROT_WRITE).union(RedoxMapFlags::PROT_EXEC);
/// Redox's MAP_FIXED_NOREPLACE is the FIXED bit plus this one.
const MAP_NOREPLACE_BIT: RedoxMapFlags = RedoxMapFlags::MAP_FIXED_NOREPLACE.difference(RedoxMapFlags::MAP_FIXED);
/// File mappings up to this many pages are fetched whole at mmap (unless
/// MAP_LAZY); larger ones page by page on fault, so that mapping a large
/// file and touching a few pages costs a few pages.
const EAGER_FILE_PAGES: u64 = 64;
/// msync(MS_INVALIDATE) works through the range this much at a time.
const INVALIDATE_PIECE_BYTES: usize = 512 * PAGE_SIZE as usize;
/// Every bit `fmap` takes: Redox's (MAP_LAZY only matters for a file
/// mapping, which fetches its pages on first touch instead of at mmap)
/// and Tessera's MAP_POPULATE and MAP_GROWSDOWN.
const MAP_KNOWN: usize = RedoxMapFlags::all().bits() | MAP_POPULATE | MAP_GROWSDOWN;

/// A user address as the call passed it: the one conversion from the raw
/// register word (`tessera-mm` checks that it is in the user range).
fn user_addr(addr: usize) -> VirtAddr {
    VirtAddr::new(addr as u64)
}

/// The protection that Redox's PROT_* bits in `flags` ask for.
fn prot(flags: RedoxMapFlags) -> Prot {
    let mut prot = Prot::NONE;
    prot.set(Prot::READ, flags.contains(RedoxMapFlags::PROT_READ));
    prot.set(Prot::WRITE, flags.contains(RedoxMapFlags::PROT_WRITE));
    prot.set(Prot::EXEC, flags.contains(RedoxMapFlags::PROT_EXEC));
    prot
}

fn map_flags(flags: RedoxMapFlags) -> Result<MapFlags> {
    if flags.bits() & !MAP_KNOWN != 0 {
        return Err(Error::new(EINVAL));
    }
    let mut out = MapFlags::empty();
    out.set(MapFlags::SHARED, flags.contains(RedoxMapFlags::MAP_SHARED));
    out.set(MapFlags::PRIVATE, flags.contains(RedoxMapFlags::MAP_PRIVATE));
    match (flags.contains(RedoxMapFlags::MAP_FIXED), flags.contains(MAP_NOREPLACE_BIT)) {
        (true, true) => out |= MapFlags::FIXED_NOREPLACE,
        (true, false) => out |= MapFlags::FIXED,
        (false, true) => return Err(Error::new(EINVAL)),
        (false, false) => {}
    }
    out.set(MapFlags::POPULATE, flags.bits() & MAP_POPULATE != 0);
    out.set(MapFlags::GROWSDOWN, flags.bits() & MAP_GROWSDOWN != 0);
    Ok(out)
}

/// `fmap(fd, map_ptr, map_len) -> address`: maps anonymous memory
/// (`fd` = [`ANONYMOUS_FD`]), a `memory:` handle, or a file of a scheme
/// that lends its pages (MmapPrep; see [`crate::mm::fmap`]).
pub fn fmap(fd: usize, map_ptr: usize, map_len: usize) -> Result<usize> {
    if map_len != core::mem::size_of::<Map>() {
        return Err(Error::new(EINVAL));
    }
    let slice = UserSlice::new(map_ptr, map_len)?;
    if fd == ANONYMOUS_FD {
        // The commonest call: the request is read and the memory mapped
        // under one hold of the space's lock.
        return with_space(|space| {
            let map: Map = slice.read_value(space)?;
            let map_flags = map_flags(map.flags)?;
            if !map.offset.is_multiple_of(rmm::PAGE_SIZE as usize) {
                return Err(Error::new(EINVAL));
            }
            map_source(space, &map, MapSource::Anonymous, map_flags)
        });
    }
    let map: Map = with_space(|space| slice.read_value(space))?;
    let (offset, size, flags) = (map.offset, map.size, map.flags);
    let mut map_flags = map_flags(flags)?;
    if !offset.is_multiple_of(rmm::PAGE_SIZE as usize) {
        return Err(Error::new(EINVAL));
    }
    let file = process::current().files.lock().get(fd)?;
    let source = match file.description.scheme.memory_source(file.description.id) {
        Err(e) if e.errno == EOPNOTSUPP => {
            return map_file(&file.description, offset as u64, size as u64, flags, map_flags, user_addr(map.address));
        }
        source => source?,
    };
    let source = match source {
        MemorySource::Anonymous => MapSource::Anonymous,
        MemorySource::Object(object) => MapSource::Object { object, offset_bytes: offset as u64 },
        MemorySource::Physical(kind) => {
            // Only addresses the CPU can reach (a PTE beyond them is a
            // reserved-bit or address-size fault, or wraps).
            let limit = 1u64 << crate::arch::physical_address_bits();
            if (offset as u64).checked_add(size as u64).is_none_or(|end| end > limit) {
                return Err(Error::new(EINVAL));
            }
            MapSource::Physical { phys: rmm::PhysAddr::new(offset as u64), kind }
        }
        MemorySource::Contiguous => {
            // A DMA buffer: all its frames now, and never copied on write
            // (a device sees one set of frames), whatever the flags say.
            if offset != 0 {
                return Err(Error::new(EINVAL));
            }
            map_flags.remove(MapFlags::PRIVATE);
            map_flags |= MapFlags::SHARED | MapFlags::POPULATE;
            MapSource::Object { object: crate::mm::dma::contiguous_object(size as u64)?, offset_bytes: 0 }
        }
    };
    let result = with_space(|space| map_source(space, &map, source.clone(), map_flags));
    // The request's handle on an object (the mapping took its own).
    if let MapSource::Object { object, .. } = source {
        MemObject::release(object, &mut KernelFrames);
    }
    result
}

/// Maps `source` into `space` as `map` asks (its size, protection and
/// address; `map_flags` are its MAP_* bits, as converted; its offset was
/// checked): [`fmap`] of anything but a lending file.
fn map_source(space: &mut crate::mm::UserSpace, map: &Map, source: MapSource, map_flags: MapFlags) -> Result<usize> {
    // Populating writable memory gives every page a slot: room for them
    // first (the undo records are reserved, fallibly, by tessera-mm).
    if map_flags.contains(MapFlags::POPULATE) && prot(map.flags).contains(Prot::WRITE) {
        let pages = (map.size as u64).div_ceil(PAGE_SIZE);
        crate::mm::reserve_heap_for(crate::mm::slot_heap_bytes(pages))?;
    }
    let request =
        MmapRequest::anonymous(map.size as u64, prot(map.flags), map_flags).at(user_addr(map.address)).source(source);
    let result = space.run(|grants, frames, tlb| grants.mmap(frames, &request, tlb)).map_err(grant_errno);
    result.map(|addr| addr.get() as usize)
}

/// Maps `size` bytes of the file open as `description` from `offset`.
fn map_file(
    description: &Arc<Description>,
    offset: u64,
    size: u64,
    flags: RedoxMapFlags,
    map_flags: MapFlags,
    address: VirtAddr,
) -> Result<usize> {
    let pages = size.div_ceil(PAGE_SIZE);
    let shared = map_flags.contains(MapFlags::SHARED);
    // A size within a page of 2^64 has no whole-page length: ENOMEM, as
    // Linux's page rounding that overflows.
    let len = pages.checked_mul(PAGE_SIZE).ok_or(Error::new(ENOMEM))?;
    let bad = pages == 0 || shared == map_flags.contains(MapFlags::PRIVATE) || map_flags.contains(MapFlags::GROWSDOWN);
    if bad {
        return Err(Error::new(EINVAL));
    }
    // Linux: file offset + length past the largest file offset (2^63 - 1,
    // MAX_LFS_FILESIZE) is EOVERFLOW; a negative C offset arrives as a
    // huge one and fails here too.
    if offset.checked_add(len).is_none_or(|end| end > i64::MAX as u64) {
        return Err(Error::new(EOVERFLOW));
    }
    // Linux: a mapping needs a file open for reading.
    if description.flags & O_ACCMODE == O_WRONLY {
        return Err(Error::new(EACCES));
    }
    let file = fmap::lease(description, offset, len, flags.bits(), shared)?;
    let request =
        MmapRequest::anonymous(len, prot(flags), map_flags).at(address).source(MapSource::File { file: file.clone() });
    let mapped =
        with_space(|space| space.run(|grants, frames, tlb| grants.mmap(frames, &request, tlb)).map_err(grant_errno));
    let addr = match mapped {
        Ok(addr) => addr,
        Err(e) => {
            // The mapping never took the lease's pin: hand the pages back.
            fmap::abandon(file);
            return Err(e);
        }
    };
    let eager = (pages <= EAGER_FILE_PAGES && !flags.contains(RedoxMapFlags::MAP_LAZY))
        || map_flags.contains(MapFlags::POPULATE);
    if eager && prot(flags).is_accessible() {
        let space = &process::current().space;
        for page in 0..pages {
            // Past the end of the file the rest is SIGBUS on touch.
            if page_fault::fault_in(space, addr.add(page * PAGE_SIZE), Access::Read).is_err() {
                break;
            }
        }
    }
    Ok(addr.get() as usize)
}

/// `funmap(addr, len)`: unmaps any page range (Linux's munmap). File pages
/// no mapping uses any more go back to their schemes (written back if the
/// mapping was shared and writable): EIO if a write-back failed (the range
/// is unmapped all the same).
pub fn funmap(addr: usize, len: usize) -> Result<usize> {
    let process = process::current();
    let mut guard = process.space.lock();
    let space = guard.as_mut().expect("a running process has a space");
    let result =
        space.run(|grants, frames, tlb| grants.munmap(frames, user_addr(addr), len as u64, tlb)).map_err(grant_errno);
    let releases = space.take_file_releases();
    drop(guard);
    result?;
    fmap::send_releases(releases, true).map(|()| 0)
}

/// `mprotect(addr, len, prot)`: `prot` holds Redox's PROT_* bits and
/// optionally [`MAP_GROWSDOWN`], Linux's PROT_GROWSDOWN: the change reaches
/// down to the start of the grows-down mapping `addr` is in (EINVAL if it is
/// not one, ENOMEM if nothing is mapped at `addr`).
pub fn mprotect(addr: usize, len: usize, flags: usize) -> Result<usize> {
    if flags & !(PROT_MASK.bits() | MAP_GROWSDOWN) != 0 {
        return Err(Error::new(EINVAL));
    }
    let down = flags & MAP_GROWSDOWN != 0;
    let flags = RedoxMapFlags::from_bits_retain(flags & PROT_MASK.bits());
    with_space(|space| {
        let (mut start, mut len) = (user_addr(addr), len as u64);
        if down {
            let grant = space.describe_at(start).ok_or(Error::new(ENOMEM))?;
            if !grant.grows_down {
                return Err(Error::new(EINVAL));
            }
            len = len.checked_add(start.get() - grant.start.get()).ok_or(Error::new(ENOMEM))?;
            start = grant.start;
        }
        space.run(|grants, frames, tlb| grants.mprotect(frames, start, len, prot(flags), tlb)).map_err(grant_errno)
    })
    .map(|()| 0)
}

/// `mremap(old_addr, old_len, new_addr, new_len, flags)`.
pub fn mremap(old_addr: usize, old_len: usize, new_addr: usize, new_len: usize, flags: usize) -> Result<usize> {
    if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 {
        // Redox's KEEP_OLD (aliasing the old range) is not implemented.
        return Err(Error::new(if flags & MremapFlags::KEEP_OLD.bits() != 0 { EOPNOTSUPP } else { EINVAL }));
    }
    let mut remap = RemapFlags::empty();
    remap.set(RemapFlags::MAYMOVE, flags & MREMAP_MAYMOVE != 0);
    match flags & MREMAP_FIXED {
        0 => {}
        MREMAP_FIXED => remap |= RemapFlags::FIXED,
        // Only one of Redox's two FIXED bits: no Linux meaning.
        _ => return Err(Error::new(EINVAL)),
    }
    remap.set(RemapFlags::DONTUNMAP, flags & MREMAP_DONTUNMAP != 0);
    let (old, new) = (user_addr(old_addr), user_addr(new_addr));
    let (old_len, new_len) = (old_len as u64, new_len as u64);
    let remapped = with_space(|space| {
        space
            .run(|grants, frames, tlb| match grants.mremap(frames, old, old_len, new_len, remap, new, None, tlb) {
                // A file mapping that grows: the scheme must lend the pages.
                Err(MmError::Unsupported) => {
                    grants.file_growth(old, old_len, new_len).map(Err).ok_or(MmError::Unsupported)
                }
                other => other.map(Ok),
            })
            .map_err(grant_errno)
    })?;
    let mut growth = match remapped {
        Ok(addr) => return Ok(addr.get() as usize),
        Err(growth) => growth,
    };
    grow_file(&mut growth, old, old_len, new_len, remap, new)
}

/// Tries of a file mapping's growth whose mapping changed while the scheme
/// was asked (another thread's munmap or mremap); then ENOMEM.
const GROW_TRIES: usize = 3;

/// Grows a file mapping by the pages `growth` names: the scheme lends them
/// first (without the space's lock: the scheme may be this very process),
/// then the mremap runs with them and extends the lease. All or nothing:
/// if the scheme fails (its errno; EIO for a dead one) or the mremap does,
/// the mapping is as it was and the lent pages go back.
fn grow_file(
    growth: &mut FileGrowth,
    old: VirtAddr,
    old_len: u64,
    new_len: u64,
    remap: RemapFlags,
    new: VirtAddr,
) -> Result<usize> {
    for _ in 0..GROW_TRIES {
        fmap::grow(growth)?;
        let done = with_space(|space| {
            Ok(space.run(|grants, frames, tlb| {
                match grants.mremap(frames, old, old_len, new_len, remap, new, Some(growth), tlb) {
                    // The mapping changed meanwhile: what does it need now?
                    Err(MmError::Unsupported) => Err(grants.file_growth(old, old_len, new_len)),
                    other => Ok(other),
                }
            }))
        })?;
        match done {
            Ok(Ok(addr)) => return Ok(addr.get() as usize),
            Ok(Err(e)) => {
                fmap::give_up(growth);
                return Err(grant_errno(e));
            }
            Err(again) => {
                fmap::give_up(growth);
                // No longer a growing file mapping: mremap says why.
                let Some(again) = again else {
                    return mremap_plain(old, old_len, new_len, remap, new);
                };
                *growth = again;
            }
        }
    }
    Err(Error::new(ENOMEM))
}

/// An mremap that needs no lending (after a file mapping changed under a
/// growth).
fn mremap_plain(old: VirtAddr, old_len: u64, new_len: u64, remap: RemapFlags, new: VirtAddr) -> Result<usize> {
    with_space(|space| {
        space
            .run(|grants, frames, tlb| grants.mremap(frames, old, old_len, new_len, remap, new, None, tlb))
            .map_err(grant_errno)
    })
    .map(|addr| addr.get() as usize)
}

/// `madvise(addr, len, advice)`: see `syscall::madvise`.
pub fn madvise(addr: usize, len: usize, advice: usize) -> Result<usize> {
    super::madvise::madvise(addr, len, advice)
}

/// `msync(addr, len, flags)`: validates; file pages in the range are
/// written back by their schemes (Msync with the same `MS_*` flags; EIO if
/// one fails). Anonymous memory has nothing to write back. With
/// MS_INVALIDATE the range's file pages that show the file's frames (all of
/// a shared mapping's, a private one's not copied yet) are then dropped, to
/// be fetched again on the next touch: they show the file's pages as the
/// scheme has them now; private copies stay (docs/fmap.md).
pub fn msync(addr: usize, len: usize, flags: usize) -> Result<usize> {
    let raw = flags;
    let flags = u32::try_from(flags).map_err(|_| Error::new(EINVAL))?;
    let flags = MsyncFlags::from_raw(flags).map_err(grant_errno)?;
    let files = with_space(|space| {
        space.run(|grants, _, _| grants.msync(user_addr(addr), len as u64, flags)).map_err(grant_errno)?;
        space.file_ranges(user_addr(addr), len as u64)
    })?;
    if !flags.contains(MsyncFlags::INVALIDATE) {
        return fmap::sync(files, raw).map(|()| 0);
    }
    // MS_INVALIDATE: a piece at a time, so that the lender's frames read
    // for the comparison take bounded kernel memory whatever the length.
    drop(files);
    let end = addr.saturating_add(len.next_multiple_of(PAGE_SIZE as usize));
    let mut synced = Ok(());
    let mut at = addr;
    while at < end {
        let piece = (end - at).min(INVALIDATE_PIECE_BYTES);
        let files = with_space(|space| space.file_ranges(user_addr(at), piece as u64))?;
        let lent = fmap::file_frames(&files);
        if let Err(e) = fmap::sync(files, raw) {
            synced = Err(e);
        }
        let is_file_frame =
            |file: &tessera_mm::FileRef, index: u64, frame| lent.get(&(file.id(), index)) == Some(&frame);
        with_space(|space| {
            space
                .run(|grants, frames, tlb| {
                    grants.invalidate_file_frames(frames, user_addr(at), piece as u64, is_file_frame, tlb)
                })
                .map_err(grant_errno)
        })?;
        at += piece;
    }
    synced.map(|()| 0)
}
