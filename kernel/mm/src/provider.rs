//! Where a grant's pages come from. [`Provider`] is a closed enum: every
//! operation matches on it, so a new kind of memory cannot be added without
//! deciding what fork, munmap, mprotect, mremap and faults do with it.
//!
//! Reference counting, the one rule behind every variant: a frame is freed
//! when its last reference goes, and references are held by
//! - the address space's *slots* (one per page of `Allocated`, `External`
//!   and `FmapBorrowed` grants that has a frame, and one per *mapped PTE* of
//!   `AllocatedShared` grants),
//! - a filesystem daemon (its own page of a lent file, in its space), and
//! - a [`MemObject`] (one per page it holds).
//!
//! The zero frame and `PhysBorrowed` frames are never counted.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use rmm::{MemoryKind, PAGE_SIZE, PhysAddr};
use spin::Mutex;

use crate::file::FileRef;
use crate::page::Page;
use crate::traits::FrameStore;

/// The memory type of a physical (device) mapping.
///
/// rmm knows only `Normal` and `Device`: write-back maps to `Normal`, and
/// both uncached and write-combining map to `Device` (uncached, no
/// speculation). Write-combining is therefore correct but slower until rmm
/// grows a WC kind (a PAT entry on x86_64, `Normal-NC` MAIR on aarch64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhysKind {
    /// Write-back cacheable (RAM handed to a driver).
    WriteBack,
    /// Uncached (device registers).
    Uncached,
    /// Write-combining (frame buffers); currently mapped as uncached.
    WriteCombining,
}

impl PhysKind {
    /// The rmm memory type used for the PTEs.
    pub const fn memory_kind(self) -> MemoryKind {
        match self {
            Self::WriteBack => MemoryKind::Normal,
            Self::Uncached | Self::WriteCombining => MemoryKind::Device,
        }
    }
}

/// A shared memory object: the pages behind MAP_SHARED anonymous memory and
/// `memory:` objects. Pages are allocated when first touched (through any
/// mapping) and each holds one reference owned by the object; every PTE
/// mapping a page holds one more (owned by the mapping address space).
///
/// The id and size never change, so they sit outside the lock; only the
/// page map is behind a `spin::Mutex` (taken after the address-space lock,
/// never held across a call back into the page table's owner).
pub struct MemObject {
    id: u64,
    size_pages: u64,
    pages: Mutex<BTreeMap<u64, PhysAddr>>,
}

/// The handle grants (and the `memory:` scheme) keep on an object. Dropping
/// the last handle must go through [`MemObject::release`] (or a
/// [`crate::Shootdown`]), which frees the pages.
pub type SharedObject = Arc<MemObject>;

static NEXT_OBJECT_ID: AtomicU64 = AtomicU64::new(1);

impl MemObject {
    /// A new, empty object of `size_pages` pages with a fresh id. Accesses
    /// through a mapping at or past `size_pages` fault with SIGBUS.
    pub fn new(size_pages: u64) -> SharedObject {
        let id = NEXT_OBJECT_ID.fetch_add(1, Ordering::Relaxed);
        Arc::new(Self { id, size_pages, pages: Mutex::new(BTreeMap::new()) })
    }
    /// An object of `frames.len()` pages whose every page already has its
    /// frame (page `i` is `frames[i]`), for memory that must not be
    /// allocated lazily: physically contiguous DMA buffers
    /// (`memory:zeroed?phys_contiguous`). The object takes over the one
    /// reference the caller holds on each frame; it never replaces a page,
    /// so the frames stay put while any handle or mapping lives.
    pub fn with_frames(frames: &[PhysAddr]) -> SharedObject {
        let object = Self::new(frames.len() as u64);
        object.pages.lock().extend(frames.iter().enumerate().map(|(i, &frame)| (i as u64, frame)));
        object
    }
    /// The object's id (for listings and the `memory:` scheme).
    pub fn id(&self) -> u64 {
        self.id
    }
    /// The object's size in pages.
    pub fn size_pages(&self) -> u64 {
        self.size_pages
    }
    /// Pages that have a frame.
    pub fn resident_pages(&self) -> usize {
        self.pages.lock().len()
    }
    /// The frame of page `index`, if it has been touched.
    pub fn page(&self, index: u64) -> Option<PhysAddr> {
        self.pages.lock().get(&index).copied()
    }
    /// Every (index, frame) with a frame, in index order.
    pub fn pages(&self) -> alloc::vec::Vec<(u64, PhysAddr)> {
        self.pages.lock().iter().map(|(i, f)| (*i, *f)).collect()
    }
    /// The frame of page `index` with one more reference for the caller,
    /// allocating a zeroed one if the page was never touched (the object
    /// keeps the allocation's reference). `None` when frames are exhausted;
    /// the `bool` says whether the frame is new.
    ///
    /// The caller's reference is taken under the object's lock, so a
    /// rolled-back operation in another space, which takes a page it
    /// allocated back out only while nobody else references it
    /// ([`Self::remove_page_if`]), can never free a frame this caller has
    /// looked up but not referenced yet.
    pub(crate) fn get_ref_or_allocate(&self, index: u64, frames: &mut impl FrameStore) -> Option<(PhysAddr, bool)> {
        let mut pages = self.pages.lock();
        if let Some(&frame) = pages.get(&index) {
            frames.get(frame);
            return Some((frame, false));
        }
        let frame = frames.allocate_zeroed()?;
        pages.insert(index, frame);
        frames.get(frame);
        Some((frame, true))
    }
    /// The (index, frame) pairs of pages in `[start, end)` that have a frame.
    pub(crate) fn pages_in(&self, start: u64, end: u64) -> alloc::vec::Vec<(u64, PhysAddr)> {
        self.pages.lock().range(start..end).map(|(i, f)| (*i, *f)).collect()
    }
    /// Forgets page `index` if it still holds `frame`, handing back the
    /// object's reference; `only_if` decides under the lock.
    pub(crate) fn remove_page_if(&self, index: u64, only_if: impl FnOnce(PhysAddr) -> bool) -> Option<PhysAddr> {
        let mut pages = self.pages.lock();
        let frame = *pages.get(&index)?;
        if !only_if(frame) {
            return None;
        }
        pages.remove(&index)
    }
    /// Drops one handle; when it was the last, drops the object's reference
    /// to each page (mappings hold their own, so a page still mapped
    /// somewhere lives on until that mapping goes).
    pub fn release(object: SharedObject, frames: &mut impl FrameStore) {
        if let Some(object) = Arc::into_inner(object) {
            for (_, frame) in core::mem::take(&mut *object.pages.lock()) {
                frames.put(frame);
            }
        }
    }
}

#[cfg(test)]
impl Drop for MemObject {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert!(self.pages.lock().is_empty(), "object {} dropped with pages: use MemObject::release", self.id);
        }
    }
}

impl fmt::Debug for MemObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemObject(id {}, {} pages)", self.id, self.size_pages)
    }
}

/// Where a grant's frames come from and what operations do with them.
#[derive(Clone)]
pub enum Provider {
    /// Private anonymous memory (MAP_PRIVATE | MAP_ANONYMOUS).
    /// - Frames: owned by the address space, one reference per slot.
    /// - Faults: lazy. A read of a never-written page maps the shared zero
    ///   frame read-only; a write allocates a zeroed frame.
    /// - Fork: copy-on-write. Both spaces reference the same frames
    ///   (refcount + 1) and both PTEs become read-only; a write fault copies
    ///   the frame if it is still shared, or just makes the PTE writable
    ///   again if the other side already let go.
    /// - munmap / DONTNEED: the frames' references are dropped after the
    ///   TLB shootdown; the next read sees zeroes.
    Allocated,
    /// MAP_SHARED anonymous memory or a `memory:` object.
    /// - Frames: owned by the object (one reference each); every mapped PTE
    ///   holds one more, owned by the address space.
    /// - Faults: lazy; the first touch through any mapping allocates the
    ///   object page, later faults (in any space) map the same frame.
    ///   Past the object's size: SIGBUS.
    /// - Fork: shared; the child maps the same object.
    /// - munmap / DONTNEED: only the PTEs (and their references) go; the data
    ///   stays in the object while any handle is left.
    AllocatedShared {
        /// The object.
        object: SharedObject,
        /// Object page mapped at the grant's first page.
        offset_pages: u64,
    },
    /// Physical memory lent to a driver (`memory:physical`, privileged).
    /// - Frames: not RAM the kernel manages; no reference counts.
    /// - Faults: none needed; mapped eagerly at mmap (a page whose PTE was
    ///   dropped by PROT_NONE is mapped again on its next access).
    /// - Fork: shared (the child maps the same physical pages).
    /// - munmap: PTEs go; nothing is freed. DONTNEED: EINVAL. Cannot grow.
    PhysBorrowed {
        /// Physical address mapped at the grant's first page.
        phys: PhysAddr,
        /// Cacheability.
        kind: PhysKind,
    },
    /// Frames borrowed from another address space (how schemes lend pages).
    /// - Frames: one reference per page, held in this space's slots.
    /// - Faults: none needed; mapped eagerly (re-mapped on access after
    ///   PROT_NONE).
    /// - Fork: shared (the child takes its own references).
    /// - munmap: PTEs and references go. DONTNEED: EINVAL. Cannot grow.
    ///
    /// A lender's *private* page keeps copy-on-write semantics on the
    /// lender's side: if the lender writes it while lent, the lender gets a
    /// copy. Lend shared-object pages when both sides must see writes.
    External {
        /// Who lent the pages (informational: a space or scheme id).
        lender: u64,
    },
    /// File pages lent by a filesystem scheme (fmap; see `file.rs`).
    /// - Frames: one reference per page that has one, in this space's
    ///   slots: the scheme's own frame, or (private mappings) a copy.
    /// - Faults: lazy; a page with no frame is fetched by the kernel from
    ///   the lender ([`crate::FaultError::FilePage`]). Shared: the file's
    ///   frame with the grant's rights. Private: the file's frame read-only,
    ///   copied on the first write (as private anonymous memory after fork).
    /// - Fork: shared leases are shared; private ones copy-on-write. The
    ///   child pins the pages too.
    /// - munmap: PTEs and references go, and the pins, which may hand pages
    ///   back to the scheme. DONTNEED drops the pages (refetched later;
    ///   private copies are lost, as on Linux). Grows only with pages the
    ///   scheme lent first ([`crate::AddrSpace::mremap`] with `growth`).
    FmapBorrowed {
        /// The lease.
        file: FileRef,
        /// File page mapped at the grant's first page.
        offset_pages: u64,
    },
}

/// A provider's kind without its data, for listings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// [`Provider::Allocated`].
    Allocated,
    /// [`Provider::AllocatedShared`], with the object id.
    AllocatedShared(u64),
    /// [`Provider::PhysBorrowed`].
    PhysBorrowed,
    /// [`Provider::External`].
    External,
    /// [`Provider::FmapBorrowed`], with the lease id.
    FmapBorrowed(u64),
}

impl ProviderKind {
    /// A short name for /proc/pid/maps-like listings.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Allocated => "anon",
            Self::AllocatedShared(_) => "shared",
            Self::PhysBorrowed => "phys",
            Self::External => "external",
            Self::FmapBorrowed(_) => "fmap",
        }
    }
}

impl Provider {
    /// The kind, for listings.
    pub fn kind(&self) -> ProviderKind {
        match self {
            Self::Allocated => ProviderKind::Allocated,
            Self::AllocatedShared { object, .. } => ProviderKind::AllocatedShared(object.id()),
            Self::PhysBorrowed { .. } => ProviderKind::PhysBorrowed,
            Self::External { .. } => ProviderKind::External,
            Self::FmapBorrowed { file, .. } => ProviderKind::FmapBorrowed(file.id()),
        }
    }

    /// Whether the pages are shared with others (`s` in a listing) rather
    /// than private to this space (`p`).
    pub fn is_shared(&self) -> bool {
        match self {
            Self::Allocated => false,
            Self::FmapBorrowed { file, .. } => file.is_shared(),
            _ => true,
        }
    }

    /// Whether pages are private copies-on-write (a write to a frame that
    /// is still shared copies it).
    pub(crate) fn is_private(&self) -> bool {
        !self.is_shared()
    }

    /// The provider for the part of a grant that starts `pages` pages in.
    pub(crate) fn advanced(&self, pages: u64) -> Provider {
        match self {
            Self::AllocatedShared { object, offset_pages } => {
                Self::AllocatedShared { object: object.clone(), offset_pages: offset_pages + pages }
            }
            Self::PhysBorrowed { phys, kind } => Self::PhysBorrowed { phys: phys.add(pages * PAGE_SIZE), kind: *kind },
            Self::FmapBorrowed { file, offset_pages } => {
                Self::FmapBorrowed { file: file.clone(), offset_pages: offset_pages + pages }
            }
            other => other.clone(),
        }
    }

    /// Whether `next`, starting `pages` pages after `self`, continues it (so
    /// the two grants may merge).
    pub(crate) fn continues_into(&self, next: &Provider, pages: u64) -> bool {
        match (self, next) {
            (Self::Allocated, Self::Allocated) => true,
            (
                Self::AllocatedShared { object: a, offset_pages: oa },
                Self::AllocatedShared { object: b, offset_pages: ob },
            ) => Arc::ptr_eq(a, b) && oa + pages == *ob,
            (Self::PhysBorrowed { phys: pa, kind: ka }, Self::PhysBorrowed { phys: pb, kind: kb }) => {
                ka == kb && pa.add(pages * PAGE_SIZE) == *pb
            }
            (Self::External { lender: a }, Self::External { lender: b }) => a == b,
            (Self::FmapBorrowed { file: a, offset_pages: oa }, Self::FmapBorrowed { file: b, offset_pages: ob }) => {
                Arc::ptr_eq(a, b) && oa + pages == *ob
            }
            _ => false,
        }
    }

    /// The object page behind `page` of a grant based at `base`.
    pub(crate) fn object_index(offset_pages: u64, base: Page, page: Page) -> u64 {
        offset_pages + base.pages_until(page)
    }
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Allocated => f.write_str("Allocated"),
            Self::AllocatedShared { object, offset_pages } => {
                write!(f, "AllocatedShared(object {}, offset {})", object.id(), offset_pages)
            }
            Self::PhysBorrowed { phys, kind } => write!(f, "PhysBorrowed({phys:?}, {kind:?})"),
            Self::External { lender } => write!(f, "External(lender {lender})"),
            Self::FmapBorrowed { file, offset_pages } => write!(f, "FmapBorrowed({file:?}, offset {offset_pages})"),
        }
    }
}
