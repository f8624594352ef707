//! Memory calls: `fmap` (mmap), `funmap` (munmap), `mprotect`, `mremap`,
//! `madvise`, `msync`. Each converts Redox's flags (kernel/abi `mm`) to
//! `tessera-mm`'s, runs the operation on the caller's address space
//! ([`crate::mm::AddrSpace::run`]: TLB shootdown, then frames released) and
//! turns its error into the Linux errno. Every operation is all or nothing.

use tessera_abi::Map;
use tessera_abi::error::{EINVAL, EOPNOTSUPP, Error, Result};
use tessera_abi::mm::{ANONYMOUS_FD, MAP_GROWSDOWN, MAP_POPULATE, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE};
use tessera_mm::{Advice, MapFlags, MapSource, MemObject, MmapRequest, MsyncFlags, Prot, RemapFlags};

use super::with_space;
use crate::mm::{KernelFrames, grant_errno};
use crate::process;
use crate::scheme::MemorySource;
use crate::usercopy::UserSlice;

/// Redox's `MapFlags` bits.
const PROT_EXEC: usize = 0x0001_0000;
const PROT_WRITE: usize = 0x0002_0000;
const PROT_READ: usize = 0x0004_0000;
const PROT_MASK: usize = PROT_EXEC | PROT_WRITE | PROT_READ;
const MAP_SHARED: usize = 0x0001;
const MAP_PRIVATE: usize = 0x0002;
const MAP_FIXED: usize = 0x0004;
/// Redox's MAP_FIXED_NOREPLACE is 0xC: the FIXED bit plus this one.
const MAP_NOREPLACE_BIT: usize = 0x0008;
/// Redox's MAP_LAZY: kernel mappings are lazy anyway; accepted, no effect.
const MAP_LAZY: usize = 0x0010;
const MAP_KNOWN: usize =
    PROT_MASK | MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_NOREPLACE_BIT | MAP_LAZY | MAP_POPULATE | MAP_GROWSDOWN;

/// The protection that Redox's PROT_* bits in `flags` ask for.
fn prot(flags: usize) -> Prot {
    let mut prot = Prot::NONE;
    prot.set(Prot::READ, flags & PROT_READ != 0);
    prot.set(Prot::WRITE, flags & PROT_WRITE != 0);
    prot.set(Prot::EXEC, flags & PROT_EXEC != 0);
    prot
}

fn map_flags(flags: usize) -> Result<MapFlags> {
    if flags & !MAP_KNOWN != 0 {
        return Err(Error::new(EINVAL));
    }
    let mut out = MapFlags::empty();
    out.set(MapFlags::SHARED, flags & MAP_SHARED != 0);
    out.set(MapFlags::PRIVATE, flags & MAP_PRIVATE != 0);
    match (flags & MAP_FIXED != 0, flags & MAP_NOREPLACE_BIT != 0) {
        (true, true) => out |= MapFlags::FIXED_NOREPLACE,
        (true, false) => out |= MapFlags::FIXED,
        (false, true) => return Err(Error::new(EINVAL)),
        (false, false) => {}
    }
    out.set(MapFlags::POPULATE, flags & MAP_POPULATE != 0);
    out.set(MapFlags::GROWSDOWN, flags & MAP_GROWSDOWN != 0);
    Ok(out)
}

/// `fmap(fd, map_ptr, map_len) -> address`: maps anonymous memory
/// (`fd` = [`ANONYMOUS_FD`]) or a `memory:` handle. Other files are
/// EOPNOTSUPP until file mappings arrive (the fmap issue).
pub fn fmap(fd: usize, map_ptr: usize, map_len: usize) -> Result<usize> {
    if map_len != core::mem::size_of::<Map>() {
        return Err(Error::new(EINVAL));
    }
    let bytes = with_space(|space| UserSlice::new(map_ptr, map_len)?.read(space))?;
    let word = |i: usize| usize::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let (offset, size, flags, address) = (word(0), word(1), word(2), word(3));
    let map_flags = map_flags(flags)?;
    if !offset.is_multiple_of(rmm::PAGE_SIZE as usize) {
        return Err(Error::new(EINVAL));
    }
    let source = if fd == ANONYMOUS_FD {
        MemorySource::Anonymous
    } else {
        let file = process::current().files.lock().get(fd)?;
        file.description.scheme.memory_source(file.description.id)?
    };
    let source = match source {
        MemorySource::Anonymous => MapSource::Anonymous,
        MemorySource::Object(object) => MapSource::Object { object, offset_bytes: offset as u64 },
        MemorySource::Physical(kind) => MapSource::Physical { phys: rmm::PhysAddr::new(offset as u64), kind },
    };
    let request = MmapRequest::anonymous(size as u64, prot(flags), map_flags)
        .at(rmm::VirtAddr::new(address as u64))
        .source(source);
    let result =
        with_space(|space| space.run(|grants, frames, tlb| grants.mmap(frames, &request, tlb)).map_err(grant_errno));
    // The request's handle on an object (the mapping took its own).
    if let MapSource::Object { object, .. } = request.source {
        MemObject::release(object, &mut KernelFrames);
    }
    result.map(|addr| addr.get() as usize)
}

/// `funmap(addr, len)`: unmaps any page range (Linux's munmap).
pub fn funmap(addr: usize, len: usize) -> Result<usize> {
    with_space(|space| {
        space
            .run(|grants, frames, tlb| grants.munmap(frames, rmm::VirtAddr::new(addr as u64), len as u64, tlb))
            .map_err(grant_errno)
    })
    .map(|()| 0)
}

/// `mprotect(addr, len, prot)`: `prot` holds only Redox's PROT_* bits.
pub fn mprotect(addr: usize, len: usize, flags: usize) -> Result<usize> {
    if flags & !PROT_MASK != 0 {
        return Err(Error::new(EINVAL));
    }
    with_space(|space| {
        space
            .run(|grants, frames, tlb| {
                grants.mprotect(frames, rmm::VirtAddr::new(addr as u64), len as u64, prot(flags), tlb)
            })
            .map_err(grant_errno)
    })
    .map(|()| 0)
}

/// `mremap(old_addr, old_len, new_addr, new_len, flags)`.
pub fn mremap(old_addr: usize, old_len: usize, new_addr: usize, new_len: usize, flags: usize) -> Result<usize> {
    if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 {
        // Redox's KEEP_OLD (aliasing the old range) is not implemented.
        return Err(Error::new(if flags & 4 != 0 { EOPNOTSUPP } else { EINVAL }));
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
    with_space(|space| {
        space
            .run(|grants, frames, tlb| {
                grants.mremap(
                    frames,
                    rmm::VirtAddr::new(old_addr as u64),
                    old_len as u64,
                    new_len as u64,
                    remap,
                    rmm::VirtAddr::new(new_addr as u64),
                    tlb,
                )
            })
            .map_err(grant_errno)
    })
    .map(|addr| addr.get() as usize)
}

/// `madvise(addr, len, advice)`.
pub fn madvise(addr: usize, len: usize, advice: usize) -> Result<usize> {
    let advice = Advice::from_raw(advice).map_err(grant_errno)?;
    with_space(|space| {
        space
            .run(|grants, frames, tlb| grants.madvise(frames, rmm::VirtAddr::new(addr as u64), len as u64, advice, tlb))
            .map_err(grant_errno)
    })
    .map(|()| 0)
}

/// `msync(addr, len, flags)`: validates; anonymous memory has nothing to
/// write back.
pub fn msync(addr: usize, len: usize, flags: usize) -> Result<usize> {
    let flags = u32::try_from(flags).map_err(|_| Error::new(EINVAL))?;
    let flags = MsyncFlags::from_raw(flags).map_err(grant_errno)?;
    with_space(|space| {
        space.run(|grants, _, _| grants.msync(rmm::VirtAddr::new(addr as u64), len as u64, flags)).map_err(grant_errno)
    })
    .map(|()| 0)
}
