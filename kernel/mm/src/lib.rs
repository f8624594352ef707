//! Tessera's grants and address spaces: the policy half of virtual memory,
//! generic over the page table and the frame store so that `cargo test` on
//! the host drives the real code with fakes.
//!
//! ```text
//!  AddrSpace<P: PageTable> ─┬─ table: P              one 4 KiB PTE at a time (kernel: rmm::PageMapper)
//!                           ├─ grants: GrantMap      base page → Grant (non-overlapping, merged when alike; chunks of 16)
//!                           ├─ gaps: Gaps            free ranges by start and by (size, start): O(log n) placement
//!                           ├─ slots: SlotMap        page → frame (one reference), in 32-page blocks; zero-frame pages have none
//!                           ├─ freeable, guards      per-page MADV_FREE marks and guard markers (advise.rs, guard.rs)
//!                           └─ config                user range, min_addr, cap, stack limits, W^X
//!        │
//!  Grant ── base, pages, prot (R/W/X), grows_down, Provider
//!        │
//!  Provider ─ Allocated        private anonymous: demand zero, zero frame for reads, CoW after fork
//!             AllocatedShared  Arc<MemObject>: MAP_SHARED anonymous / memory: objects, shared across fork
//!             PhysBorrowed     device memory for drivers, eager, never refcounted
//!             External         frames lent by another space, one reference each
//!             FmapBorrowed     Arc<FileMap>: file pages lent by a filesystem scheme, fetched on fault
//!
//!  every mutating op(…, frames: &mut impl FrameStore, …, tlb: &mut Shootdown)
//!        └─ Txn (undo log) ── commit ──► tlb: pages to flush + references to drop after the flush
//!                           └ drop ────► rollback: exactly as before (flushes what it removed)
//!  kernel: IPI every CPU using the space, wait for acks, then tlb.finish(frames)
//! ```
//!
//! [`tags`] hands out the TLB tags (aarch64 ASIDs) a space's entries carry
//! (Linux's generation-rollover allocator), tested against a model of
//! tagged TLBs.
//!
//! The fmap round trip (file mappings through a filesystem scheme, DESIGN
//! §6): the kernel asks the scheme for a file's pages (MmapPrep) and maps
//! the lease as `FmapBorrowed` grants; faults fetch pages from the lender,
//! and pages no mapping pins any more come back as [`FileRelease`]s for the
//! kernel to hand back (Munmap, with NEEDS_SYNC when written). See
//! `file.rs`.
//!
//! # Operations
//! [`AddrSpace::mmap`], [`AddrSpace::munmap`], [`AddrSpace::mprotect`],
//! [`AddrSpace::mremap`], [`AddrSpace::madvise`], [`AddrSpace::msync`],
//! [`AddrSpace::fork`], [`AddrSpace::fault`], [`AddrSpace::teardown`],
//! plus accounting ([`AddrSpace::mapped_pages`], [`AddrSpace::resident_pages`])
//! and a listing ([`AddrSpace::grants`], whose items print as
//! /proc/pid/maps-like lines). Errors are [`MmError`] (with
//! [`MmError::errno`]) and, for faults, [`FaultError`] (a signal).
//!
//! Every operation is transactional: it fully succeeds, or grants, PTEs,
//! slots, reference counts, accounting and memory objects are as before.
//! See `txn.rs` for how, and [`Shootdown`] for the TLB rule: no frame is
//! released before every CPU using the space has flushed it.
//!
//! # Decisions
//! - **Shootdowns are an out-parameter**: every mutating operation takes
//!   `tlb: &mut Shootdown` instead of returning one, because a failed
//!   operation's rollback can also remove PTEs that other CPUs may have
//!   cached (Linux's `mmu_gather` does the same). The kernel makes one per
//!   call and flushes + finishes it whatever the result.
//! - **fork takes `&mut self`**: it write-protects the parent's private
//!   PTEs (their flush is in the parent's shootdown).
//! - **Placement** (mmap without MAP_FIXED, mremap moves): a free hint is
//!   honoured; otherwise best fit, lowest address of the smallest gap that
//!   fits, skipping the guard gap below grows-down grants. A grows-down
//!   mapping goes at the top of the smallest gap that also fits its guard.
//! - **Canonical layout**: adjacent grants of the same kind (same
//!   protection, continuing provider) are merged after every operation, so
//!   mprotect back and forth or refilling a hole gives one grant again, and
//!   a rollback restores the layout exactly.
//! - **Page 0 and low memory**: nothing below [`SpaceConfig::min_addr`]
//!   (default 64 KiB, at least one page) is ever mapped.
//! - **W^X**: PROT_WRITE | PROT_EXEC is refused with EACCES by mmap and
//!   mprotect unless [`SpaceConfig::allow_write_exec`] is set.
//! - **Readability**: PageFlags has no read bit, so any accessible
//!   protection can be read; PROT_NONE removes the PTEs (data is kept).
//! - **Zero frame**: reads of never-written private pages map the shared
//!   zero frame read-only; the first write allocates. MAP_POPULATE of a
//!   read-only private mapping maps the zero frame; of a writable one,
//!   allocates.
//! - **Stack growth**: see `fault.rs` (limit, guard gap, cap).
//! - **brk**: not provided here; brk/sbrk will be done in relibc-shim on
//!   top of mmap (e.g. a reserved region grown with MAP_FIXED).
//! - **Teardown**: [`AddrSpace::teardown`] frees directly (the space is no
//!   longer live on any CPU) and returns the page table.
//! - **Lazy PTEs**: a page that has a frame may have no PTE (a private or
//!   borrowed page after PROT_NONE is lifted, a device page likewise, a
//!   shared-object page not yet touched through this mapping); the next
//!   access maps it. This keeps mprotect and madvise infallible.
//! - **Errors vs Linux**: mprotect / madvise on a range with holes fail
//!   with ENOMEM *without* changing the mapped parts (Linux changes the
//!   part before the first hole). A MAP_FIXED range outside the user range
//!   is EINVAL.
//! - **Kernel heap**: grants, slots and undo logs live in `alloc`
//!   collections. What grows with a call's size is bounded or fallible:
//!   grants by [`SpaceConfig::max_grants`] (ENOMEM), slots by frames (a
//!   zero-frame page has none), undo logs of populate and fork are
//!   reserved with `try_reserve` (ENOMEM), shootdown range lists are
//!   folded past 32 ranges. The kernel reserves heap room for the rest
//!   before each call (a map insert cannot report failure).
//! - **Not yet**: growing file mappings (mremap), private mappings of memory objects,
//!   lending a space's pages (the kernel builds `External` sources itself),
//!   huge pages, swap.
// no_std for the kernel; the host tests (and only they) link std for the
// fakes. The bare-metal builds prove the library needs nothing from std.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

extern crate alloc;

mod advise;
mod error;
mod fault;
mod file;
mod fork;
mod gaps;
mod grant;
mod grant_map;
mod guard;
mod invalidate;
mod map;
mod page;
mod protect;
mod provider;
mod remap;
mod shootdown;
mod slots;
mod space;
pub mod tags;
mod traits;
mod txn;
mod unmap;
mod write_around;

pub use advise::{Advice, MsyncFlags};
pub use error::{FaultError, MmError};
pub use fault::{Access, FAULT_AHEAD_PAGES, FAULT_AROUND_PAGES, FaultAround};
pub use file::{FileMap, FileRange, FileRef, FileRelease, FileToken, PinRuns};
pub use grant::{Grant, GrantInfo, Prot};
pub use map::{MapFlags, MapSource, MmapRequest};
pub use page::{Page, PageRange};
pub use provider::{MemObject, PhysKind, Provider, ProviderKind, SharedObject};
pub use remap::{FileGrowth, RemapFlags};
pub use shootdown::Shootdown;
pub use slots::{BLOCK_PAGES as SLOT_BLOCK_PAGES, blocks_for as slot_blocks_for};
pub use space::{AddrSpace, SpaceConfig};
pub use traits::{FrameStore, MapFailed, PageTable};
pub use write_around::WRITE_AROUND_PAGES;

#[cfg(test)]
mod tests;
