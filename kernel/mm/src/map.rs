//! mmap: validation, placement, MAP_FIXED replacement, and population.
//!
//! Placement without MAP_FIXED: a hint is honoured when its whole range is
//! free (and outside a stack's guard gap); otherwise the *smallest* gap that
//! fits is taken, at its lowest address (best fit, O(log n) through the gap
//! index; see `gaps.rs`). Best fit keeps large gaps whole for large
//! requests; starting at a gap's bottom keeps the room just below stacks
//! free. A grows-down mapping without MAP_FIXED goes instead at the *top*
//! of the smallest gap that fits it plus its guard gap, so it has room to
//! grow. Addresses below `min_addr` are never used, so page 0 is never
//! mapped.

use rmm::{PAGE_SIZE, PhysAddr, VirtAddr};

use bitflags::bitflags;

use crate::fault::{Access, resolve};
use crate::grant::{Grant, Prot};
use crate::page::{Page, PageRange, pages_for};
use crate::provider::{MemObject, PhysKind, Provider, SharedObject};
use crate::shootdown::Shootdown;
use crate::space::AddrSpace;
use crate::traits::{FrameStore, PageTable};
use crate::txn::{Mode, Txn};
use crate::unmap::remove_range;
use crate::{FaultError, MmError};

bitflags! {
    /// mmap flags (Linux's values; the kernel converts from the Redox ABI).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct MapFlags: u32 {
        /// Shared with other mappings of the same memory and across fork.
        const SHARED = 0x01;
        /// Private (copy-on-write across fork). Exactly one of SHARED and
        /// PRIVATE must be given.
        const PRIVATE = 0x02;
        /// Map exactly at `addr`, replacing what is there.
        const FIXED = 0x10;
        /// A stack that grows down on faults below it (private anonymous).
        const GROWSDOWN = 0x0100;
        /// Pre-fault every page (writable private pages get frames now).
        const POPULATE = 0x8000;
        /// Map exactly at `addr`; EEXIST if anything is there.
        const FIXED_NOREPLACE = 0x10_0000;
    }
}

/// What an mmap maps.
#[derive(Clone)]
pub enum MapSource<'a> {
    /// Anonymous memory: private → [`Provider::Allocated`]; shared → a new
    /// memory object of the mapping's size ([`Provider::AllocatedShared`]).
    Anonymous,
    /// A `memory:` object from `offset_bytes` (page aligned). Shared only:
    /// private mappings of objects are not implemented (EOPNOTSUPP). Pages
    /// past the object's size fault with SIGBUS.
    Object {
        /// The object.
        object: SharedObject,
        /// Where in the object the mapping starts.
        offset_bytes: u64,
    },
    /// Physical memory for a driver, from `phys` (page aligned); shared
    /// only. The kernel checks the privilege before asking.
    Physical {
        /// First physical byte.
        phys: PhysAddr,
        /// Cacheability.
        kind: PhysKind,
    },
    /// Frames lent by another address space, one per page (each gets a
    /// reference); shared only, and `frames.len()` must be the length in
    /// pages. They must be live, reference-counted RAM frames (not the zero
    /// frame, not device memory); the kernel gathers them.
    External {
        /// Who lends them.
        lender: u64,
        /// The frames, in page order.
        frames: &'a [PhysAddr],
    },
    /// A file lease from its filesystem scheme (fmap): the mapping covers
    /// exactly the lease's pages (EINVAL otherwise) and takes over the pin
    /// [`crate::FileMap::new`] made. Shared or private as the lease says
    /// (the request's SHARED/PRIVATE must agree: EINVAL). Pages come on
    /// fault ([`crate::FaultError::FilePage`]); POPULATE is the kernel's.
    File {
        /// The lease.
        file: crate::file::FileRef,
    },
}

/// One mmap call.
#[derive(Clone)]
pub struct MmapRequest<'a> {
    /// The hint, or the exact address with FIXED / FIXED_NOREPLACE. 0 means
    /// no hint.
    pub addr: VirtAddr,
    /// Length in bytes (rounded up to pages).
    pub len_bytes: u64,
    /// Protection.
    pub prot: Prot,
    /// Flags.
    pub flags: MapFlags,
    /// What to map.
    pub source: MapSource<'a>,
}

impl MmapRequest<'static> {
    /// Anonymous memory with no hint.
    pub fn anonymous(len_bytes: u64, prot: Prot, flags: MapFlags) -> Self {
        Self { addr: VirtAddr::new(0), len_bytes, prot, flags, source: MapSource::Anonymous }
    }
}

impl<'a> MmapRequest<'a> {
    /// The same request at `addr` (a hint, or exact with FIXED).
    pub fn at(mut self, addr: VirtAddr) -> Self {
        self.addr = addr;
        self
    }
    /// The same request mapping `source`.
    pub fn source(mut self, source: MapSource<'a>) -> Self {
        self.source = source;
        self
    }
}

impl<P: PageTable> AddrSpace<P> {
    /// Maps memory and returns its first address. With MAP_FIXED the old
    /// mappings in the range are replaced atomically: if the new mapping
    /// cannot be made, the old one is still there.
    ///
    /// Errors (nothing changed):
    /// - EINVAL: zero length; neither or both of SHARED and
    ///   PRIVATE; FIXED / FIXED_NOREPLACE with a misaligned address; misaligned object offset or
    ///   physical address; GROWSDOWN on anything but private anonymous
    ///   memory; physical / external memory mapped private; an external
    ///   frame list of the wrong length.
    /// - EPERM: FIXED / FIXED_NOREPLACE starting below `min_addr`.
    /// - EACCES: PROT_WRITE | PROT_EXEC under W^X.
    /// - EEXIST: FIXED_NOREPLACE over an existing mapping.
    /// - ENOMEM: a length whose page rounding overflows; FIXED /
    ///   FIXED_NOREPLACE with a range ending past `user_end`; no free range
    ///   fits; the mapped-pages or grant cap would be exceeded;
    ///   frames or page-table pages ran out (eager mapping or POPULATE).
    /// - EACCES: a shared writable mapping of a file lease that does not
    ///   allow writing.
    /// - EOPNOTSUPP: a private mapping of a memory object.
    pub fn mmap(
        &mut self,
        frames: &mut impl FrameStore,
        request: &MmapRequest<'_>,
        tlb: &mut Shootdown,
    ) -> Result<VirtAddr, MmError> {
        // Linux: a length whose page rounding overflows is ENOMEM.
        let pages = pages_for(request.len_bytes).map_err(|_| MmError::NoMem)?;
        if pages == 0 {
            return Err(MmError::Inval);
        }
        let flags = request.flags;
        if flags.contains(MapFlags::SHARED) == flags.contains(MapFlags::PRIVATE) {
            return Err(MmError::Inval);
        }
        let shared = flags.contains(MapFlags::SHARED);
        check_prot(&self.config, request.prot)?;
        let provider = self.provider_for(&request.source, shared, pages, request.prot)?;
        if flags.contains(MapFlags::GROWSDOWN) && !matches!(provider, PendingProvider::Private) {
            return Err(MmError::Inval);
        }
        let exact = flags.intersects(MapFlags::FIXED | MapFlags::FIXED_NOREPLACE);
        let range = if exact {
            let start = Page::at(request.addr).ok_or(MmError::Inval)?;
            let user = self.config.user_range();
            // Linux's order: past the top is ENOMEM, then below the lowest
            // mappable address is EPERM.
            let end = start.number().checked_add(pages);
            if pages > user.pages() || end.is_none_or(|end| end > user.end.number()) {
                return Err(MmError::NoMem);
            }
            if start < user.start {
                return Err(MmError::Perm);
            }
            let range = PageRange::from_len(start, pages);
            if flags.contains(MapFlags::FIXED_NOREPLACE) && !self.is_free(range) {
                return Err(MmError::Exist);
            }
            range
        } else if flags.contains(MapFlags::GROWSDOWN) {
            self.place_stack(request.addr, pages)?
        } else {
            self.place(request.addr, pages)?
        };
        let replaced = if exact { self.mapped_in(range) } else { 0 };
        self.check_cap(pages, replaced)?;

        let mut tx = Txn::new(self, frames, tlb, Mode::Undoable);
        if exact {
            // A placed range is free already.
            remove_range(&mut tx, range);
        }
        let provider = match provider {
            PendingProvider::Private => Provider::Allocated,
            PendingProvider::NewObject => Provider::AllocatedShared { object: MemObject::new(pages), offset_pages: 0 },
            PendingProvider::Ready(provider) => provider,
        };
        let grant = Grant {
            base: range.start,
            pages,
            prot: request.prot,
            grows_down: flags.contains(MapFlags::GROWSDOWN),
            dont_fork: false,
            wipe_on_fork: false,
            lend_aside: false,
            provider: provider.clone(),
        };
        let eager = matches!(provider, Provider::PhysBorrowed { .. } | Provider::External { .. });
        let populating = eager || flags.contains(MapFlags::POPULATE);
        if populating {
            tx.insert_grant(grant);
            if let (MapSource::External { frames: lent, .. }, Provider::External { .. }) = (&request.source, &provider)
            {
                for (page, frame) in range.iter().zip(lent.iter()) {
                    tx.take_ref(*frame);
                    tx.insert_slot(page, *frame);
                }
            }
            populate(&mut tx, range, request.prot)?;
            tx.merge_at(range.start);
            tx.merge_at(range.end);
        } else {
            // Memory that continues an alike grant below (a heap growing,
            // one anonymous mapping after another) extends it in place.
            tx.place_grant(grant);
        }
        tx.commit_within_limits()?;
        if let MapSource::File { file } = &request.source {
            file.note_writable(request.prot.contains(Prot::WRITE));
        }
        Ok(range.start.start())
    }

    /// Where a non-fixed mapping of `pages` goes. ENOMEM if nowhere.
    pub(crate) fn place(&self, hint: VirtAddr, pages: u64) -> Result<PageRange, MmError> {
        if let Some(range) = self.hinted(hint, pages) {
            return Ok(range);
        }
        let start = self.gaps.find(pages).ok_or(MmError::NoMem)?;
        Ok(PageRange::from_len(start, pages))
    }

    /// Where a non-fixed grows-down mapping goes: a free hint, else the
    /// top of the smallest gap that also fits its guard gap below it, so
    /// that it can grow.
    fn place_stack(&self, hint: VirtAddr, pages: u64) -> Result<PageRange, MmError> {
        if let Some(range) = self.hinted(hint, pages) {
            return Ok(range);
        }
        let start = self.gaps.find_top(pages, self.config.stack_guard_pages).ok_or(MmError::NoMem)?;
        Ok(PageRange::from_len(start, pages))
    }

    /// The hint (rounded up to a page) if its whole range may be used.
    fn hinted(&self, hint: VirtAddr, pages: u64) -> Option<PageRange> {
        if hint.get() == 0 {
            return None;
        }
        let start = Page::containing(VirtAddr::new(hint.get().checked_add(PAGE_SIZE - 1)?));
        start.number().checked_add(pages)?;
        let range = PageRange::from_len(start, pages);
        self.is_placeable(range).then_some(range)
    }

    fn provider_for(
        &self,
        source: &MapSource<'_>,
        shared: bool,
        pages: u64,
        prot: Prot,
    ) -> Result<PendingProvider, MmError> {
        Ok(match source {
            MapSource::Anonymous if shared => PendingProvider::NewObject,
            MapSource::Anonymous => PendingProvider::Private,
            MapSource::Object { object, offset_bytes } => {
                if offset_bytes % PAGE_SIZE != 0 {
                    return Err(MmError::Inval);
                }
                if !shared {
                    return Err(MmError::Unsupported);
                }
                PendingProvider::Ready(Provider::AllocatedShared {
                    object: object.clone(),
                    offset_pages: offset_bytes / PAGE_SIZE,
                })
            }
            MapSource::Physical { phys, kind } => {
                let fits = phys.get().checked_add(pages.saturating_mul(PAGE_SIZE)).is_some();
                if !phys.is_aligned(PAGE_SIZE) || !shared || !fits {
                    return Err(MmError::Inval);
                }
                PendingProvider::Ready(Provider::PhysBorrowed { phys: *phys, kind: *kind })
            }
            MapSource::External { lender, frames } => {
                if !shared || frames.len() as u64 != pages || frames.iter().any(|f| !f.is_aligned(PAGE_SIZE)) {
                    return Err(MmError::Inval);
                }
                PendingProvider::Ready(Provider::External { lender: *lender })
            }
            MapSource::File { file } => {
                if file.pages() != pages || file.is_shared() != shared {
                    return Err(MmError::Inval);
                }
                if !file.allows(prot.contains(Prot::WRITE)) {
                    return Err(MmError::Access);
                }
                PendingProvider::Ready(Provider::FmapBorrowed { file: file.clone(), offset_pages: file.first_page() })
            }
        })
    }
}

/// The provider before the transaction starts (a new object is made inside
/// it, so a failed mmap leaves no object behind).
enum PendingProvider {
    Private,
    NewObject,
    Ready(Provider),
}

/// W^X: EACCES for PROT_WRITE | PROT_EXEC unless the space allows it.
pub(crate) fn check_prot(config: &crate::SpaceConfig, prot: Prot) -> Result<(), MmError> {
    if prot.contains(Prot::WRITE | Prot::EXEC) && !config.allow_write_exec {
        return Err(MmError::Access);
    }
    Ok(())
}

/// Pre-faults `range` of a new grant: writable pages as if written, others
/// as if read (private read-only pages get the zero frame). Pages past a
/// memory object's end are left alone. ENOMEM when frames run out.
pub(crate) fn populate<P: PageTable, F: FrameStore>(
    tx: &mut Txn<'_, P, F>,
    range: PageRange,
    prot: Prot,
) -> Result<(), MmError> {
    let access = if prot.contains(Prot::WRITE) {
        // A slot, a reference and a PTE per page, each undoable.
        tx.reserve_log(range.pages().saturating_mul(3))?;
        Access::Write
    } else if prot.is_accessible() {
        // Zero-frame PTEs: nothing logged per page.
        Access::Read
    } else {
        return Ok(());
    };
    for page in range.iter() {
        match resolve(tx, page, access) {
            // File pages are the kernel's to fetch.
            Ok(()) | Err(FaultError::Bus | FaultError::FilePage) => {}
            Err(FaultError::OutOfMemory) => return Err(MmError::NoMem),
            Err(FaultError::Segv) => return Err(MmError::Inval),
        }
    }
    Ok(())
}
