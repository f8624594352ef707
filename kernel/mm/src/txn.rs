//! The undo guard that makes operations transactional.
//!
//! An operation opens a [`Txn`] on the space and makes every change through
//! it: grants, PTEs, slots, references, object pages. In [`Mode::Undoable`]
//! each change is logged with what undoes it; [`Txn::commit`] keeps the
//! changes, and dropping the guard uncommitted (an early `?` return) replays
//! the log backwards, so grants, PTEs, slots, reference counts, the gap
//! index, the counters and the objects are exactly as before.
//!
//! References the operation gives up are never dropped inside it: they go to
//! the guard's own shootdown and reach the caller's only on commit (so a
//! rollback simply gives them back). Conversely, frames the operation
//! allocated or referenced are released by a rollback *through the caller's
//! shootdown*, and every PTE the rollback removes or downgrades is flushed,
//! because other CPUs may have cached it while the operation ran. Pages to
//! flush go straight to the caller's shootdown (committed or rolled back,
//! they are flushed).
//!
//! Operations that cannot fail after validation (munmap, mprotect, madvise)
//! use [`Mode::Infallible`], which logs nothing: validation happens before
//! the first change, and dropping such a guard commits; their releases go
//! straight to the caller's shootdown too.
//!
//! Cutting a grant in two, merging two neighbours and changing a grant's
//! protection or marks happen in place in the grant tree
//! ([`Txn::split_at`], [`Txn::merge_at`], [`Txn::change_grants`]): no page
//! changes between mapped and free, so the gap index is not touched, and
//! the undo record says how to reverse just that step.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use rmm::{PageFlags, PhysAddr};

use crate::MmError;
use crate::grant::Grant;
use crate::grant_map::{Cut, Placed};
use crate::page::{Page, PageRange};
use crate::provider::SharedObject;
use crate::shootdown::Shootdown;
use crate::space::AddrSpace;
use crate::traits::{FrameStore, PageTable};

mod ptes;

#[cfg(test)]
std::thread_local! {
    /// The longest undo log of any operation on this thread (host tests
    /// check that what must not cost per-page records does not).
    pub(crate) static PEAK_LOG: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// Whether a guard logs for rollback.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Log every change; dropping without commit rolls back.
    Undoable,
    /// Log nothing; dropping commits.
    Infallible,
}

/// Whether going from `old` to `new` takes a right away (or changes the
/// memory type): such a PTE change must be flushed before it is relied on.
fn lost_right(old: PageFlags, new: PageFlags) -> bool {
    (old.is_writable() && !new.is_writable())
        || (old.is_executable() && !new.is_executable())
        || old.memory_kind() != new.memory_kind()
}

/// One logged change, with what is needed to undo it.
enum Undo {
    InsertedGrant(Page),
    RemovedGrant(Grant),
    /// The grant at `base` was cut at `at` in place.
    Split {
        base: Page,
        at: Page,
    },
    /// The grant at `base` was extended in place by `pages` new pages
    /// (mapped from a gap).
    Extended {
        base: Page,
        pages: u64,
    },
    /// `high` was merged into the grant at `low` in place.
    Merged {
        low: Page,
        high: Grant,
    },
    /// The grant at its base was changed in place (not its range): what it was.
    ChangedGrant(Grant),
    MappedPte(Page),
    UnmappedPte(Page, PhysAddr, PageFlags),
    ProtectedPte(Page, PageFlags),
    InsertedSlot(Page),
    RemovedSlot(Page, PhysAddr),
    /// A reference this operation took (or a frame it allocated).
    TookRef(PhysAddr),
    /// A page this operation allocated into an object.
    ObjectPage(SharedObject, u64),
    /// A guard marker this operation set.
    InsertedGuard(Page),
    /// A guard marker this operation removed.
    RemovedGuard(Page),
}

/// The most undo records of room a space keeps between operations
/// ([`SpareLog`]): enough for an mmap or a fault; the long log of a fork
/// or a populate is freed.
pub(crate) const SPARE_LOG_RECORDS: usize = 16;

/// An empty undo log with room, kept in the space between operations so
/// that the common ones allocate none (an mmap or a fault logs a few
/// records).
#[derive(Default)]
pub(crate) struct SpareLog(Vec<Undo>);

/// The guard. See the module docs.
pub(crate) struct Txn<'a, P: PageTable, F: FrameStore> {
    pub(crate) space: &'a mut AddrSpace<P>,
    pub(crate) frames: &'a mut F,
    tlb: &'a mut Shootdown,
    local: Shootdown,
    log: Vec<Undo>,
    mode: Mode,
    done: bool,
}

impl<'a, P: PageTable, F: FrameStore> Txn<'a, P, F> {
    pub(crate) fn new(space: &'a mut AddrSpace<P>, frames: &'a mut F, tlb: &'a mut Shootdown, mode: Mode) -> Self {
        let log = core::mem::take(&mut space.spare_log.0);
        Self { space, frames, tlb, local: Shootdown::new(), log, mode, done: false }
    }

    fn record(&mut self, undo: Undo) {
        if self.mode == Mode::Undoable {
            self.log.push(undo);
            #[cfg(test)]
            PEAK_LOG.with(|peak| peak.set(peak.get().max(self.log.len())));
        }
    }

    /// Makes room in the undo log for `records` more, fallibly: an
    /// operation whose log grows with its size (populate, fork) asks first,
    /// so that a huge one fails with ENOMEM instead of exhausting the heap.
    pub(crate) fn reserve_log(&mut self, records: u64) -> Result<(), MmError> {
        if self.mode == Mode::Infallible {
            return Ok(());
        }
        let records = usize::try_from(records).map_err(|_| MmError::NoMem)?;
        self.log.try_reserve(records).map_err(|_| MmError::NoMem)
    }

    /// Keeps every change; deferred releases go to the caller's shootdown.
    /// The guard is then done (dropping it does nothing more). By
    /// reference, as [`Self::commit_within_limits`]: the guard is nearly
    /// 200 bytes (its own shootdown's lists), and a call taking it by value
    /// copied it on every mmap and munmap.
    pub(crate) fn commit(&mut self) {
        self.finish_commit();
    }

    /// [`Self::commit`], unless the space now holds more grants than its
    /// cap: then the error is ENOMEM, and dropping the guard rolls
    /// everything back.
    pub(crate) fn commit_within_limits(&mut self) -> Result<(), MmError> {
        if self.space.grant_count() > self.space.config.max_grants {
            return Err(MmError::NoMem);
        }
        self.finish_commit();
        Ok(())
    }

    fn finish_commit(&mut self) {
        self.done = true;
        if !self.local.is_empty() {
            self.tlb.absorb(core::mem::take(&mut self.local));
        }
        // Object handles in the log are clones; let the caller's shootdown
        // drop them so none is ever the last one dropped here.
        for undo in self.log.drain(..) {
            match undo {
                Undo::RemovedGrant(grant) | Undo::Merged { high: grant, .. } | Undo::ChangedGrant(grant) => {
                    self.tlb.defer_grant(grant)
                }
                Undo::ObjectPage(object, _) => self.tlb.defer_object(object),
                _ => {}
            }
        }
    }

    fn rollback(&mut self) {
        self.done = true;
        // References this rollback drops, per frame: an object page is only
        // taken back out of its object if nobody else referenced it since.
        let mut dropping: BTreeMap<PhysAddr, usize> = BTreeMap::new();
        while let Some(undo) = self.log.pop() {
            match undo {
                Undo::InsertedGrant(base) => {
                    if let Some(grant) = self.space.remove_grant_raw(base) {
                        // Zero-frame PTEs are not logged one by one (see
                        // `map_zero_pte`); any this operation made lie in a
                        // grant it inserted, so they go with it.
                        self.unmap_zero_ptes(grant.range());
                        self.tlb.defer_grant(grant);
                    }
                }
                Undo::RemovedGrant(grant) => self.space.insert_grant_raw(grant),
                Undo::Split { base, at } => {
                    if let Some(high) = self.space.grants.remove(&at) {
                        if let Some(low) = self.space.grants.get_mut(&base) {
                            low.pages += high.pages;
                        }
                        self.tlb.defer_grant(high);
                    }
                }
                Undo::Extended { base, pages } => {
                    let Some(grant) = self.space.grants.get_mut(&base) else { continue };
                    grant.pages -= pages;
                    let added = PageRange::from_len(grant.end(), pages);
                    let guard_above = self.space.grants.get(&added.end).map_or(0, |above| self.space.guard_of(above));
                    self.space.gaps.release(added, guard_above);
                    self.space.mapped_pages -= pages;
                    // As for an inserted grant: zero-frame PTEs are not logged.
                    self.unmap_zero_ptes(added);
                }
                Undo::Merged { low, high } => {
                    if let Some(grant) = self.space.grants.get_mut(&low) {
                        grant.pages -= high.pages;
                    }
                    self.space.grants.insert(high.base, high);
                }
                Undo::ChangedGrant(old) => {
                    if let Some(changed) = self.space.grants.insert(old.base, old) {
                        self.tlb.defer_grant(changed);
                    }
                }
                Undo::MappedPte(page) => {
                    self.space.table.unmap(page.start());
                    self.tlb.flush_page(page);
                }
                Undo::UnmappedPte(page, frame, flags) => {
                    // Cannot fail by the PageTable contract (the slot's
                    // tables exist). If it did, the page just stays
                    // unmapped and the next access maps it again.
                    let remapped = self.space.table.map(page.start(), frame, flags);
                    debug_assert!(remapped.is_ok(), "PageTable contract: re-map of {page:?} failed");
                }
                Undo::ProtectedPte(page, flags) => {
                    self.space.table.protect(page.start(), flags);
                    self.tlb.flush_page(page);
                }
                Undo::InsertedSlot(page) => {
                    self.space.remove_slot_raw(page);
                }
                Undo::RemovedSlot(page, slot) => self.space.insert_slot_raw(page, slot),
                Undo::InsertedGuard(page) => {
                    self.space.guards.remove(&page);
                }
                Undo::RemovedGuard(page) => {
                    self.space.guards.insert(page);
                }
                Undo::TookRef(frame) => {
                    self.tlb.defer_put(frame);
                    *dropping.entry(frame).or_default() += 1;
                }
                Undo::ObjectPage(object, index) => {
                    let frames = &*self.frames;
                    let removed = object.remove_page_if(index, |frame| {
                        frames.refcount(frame) == 1 + dropping.get(&frame).copied().unwrap_or(0)
                    });
                    if let Some(frame) = removed {
                        self.tlb.defer_put(frame);
                    }
                    self.tlb.defer_object(object);
                }
            }
        }
        self.tlb.absorb_without_frames(core::mem::take(&mut self.local));
    }

    // ---- grants ----

    pub(crate) fn insert_grant(&mut self, grant: Grant) {
        self.record(Undo::InsertedGrant(grant.base));
        self.space.insert_grant_raw(grant);
    }

    /// Maps `grant` (new pages from a gap, none populated): extends the
    /// grant that ends where it starts if that one can absorb it, else
    /// inserts it; then joins the grant that starts where it ends if alike.
    /// What [`Self::insert_grant`] and [`Self::merge_at`] at both ends would
    /// leave (same records), with one descent of the grant index for both
    /// neighbours and the insertion ([`GrantMap::place`]): a descent's cost
    /// grows with the number of grants.
    ///
    /// [`GrantMap::place`]: crate::grant_map::GrantMap::place
    pub(crate) fn place_grant(&mut self, grant: Grant) {
        let space = &mut *self.space;
        debug_assert!(grant.pages > 0 && space.is_free(grant.range()), "place {grant:?} over a grant");
        let (range, guard, end) = (grant.range(), space.guard_of(&grant), grant.end());
        let joins_high = match space.grants.place(grant) {
            Placed::Absorbed { base, joins_high } => {
                self.record(Undo::Extended { base, pages: range.pages() });
                joins_high
            }
            Placed::Inserted { joins_high } => {
                self.record(Undo::InsertedGrant(range.start));
                joins_high
            }
        };
        self.space.gaps.reserve(range, guard);
        self.space.mapped_pages += range.pages();
        if joins_high {
            self.merge_at(end);
        }
    }

    /// Removes the grant at `base` and hands it to the caller, who either
    /// inserts it again (changed) or passes it to [`Self::discard_grant`].
    pub(crate) fn take_grant(&mut self, base: Page) -> Option<Grant> {
        let grant = self.space.remove_grant_raw(base)?;
        if self.mode == Mode::Undoable {
            self.log.push(Undo::RemovedGrant(grant.clone()));
        }
        Some(grant)
    }

    /// Drops a taken grant; its object handle goes after the flush.
    pub(crate) fn discard_grant(&mut self, grant: Grant) {
        self.deferred().defer_grant(grant);
    }

    /// Where releases wait for the flush: the caller's shootdown at once
    /// when nothing can roll back, else this guard's own until the commit.
    fn deferred(&mut self) -> &mut Shootdown {
        match self.mode {
            Mode::Infallible => self.tlb,
            Mode::Undoable => &mut self.local,
        }
    }

    /// Cuts the grant that strictly contains `at`, if any, in two, in
    /// place: the pages stay mapped, so the gap index does not change (one
    /// lookup and one insertion in the grant tree).
    pub(crate) fn split_at(&mut self, at: Page) {
        let Some((&base, low)) = self.space.grants.range_mut(..=at).next_back() else { return };
        if base == at || low.end() <= at {
            return;
        }
        let high = low.split_off(at);
        self.space.grants.insert(at, high);
        self.record(Undo::Split { base, at });
    }

    /// Takes `range` out of the grant tree when one grant holds all of it,
    /// as [`Self::split_at`] at both ends and [`Self::take_grant`] would
    /// (same records, same gap index and counters), but with one descent
    /// of the grant index for the grant, its upper neighbour and the cut
    /// ([`GrantMap::cut`]). `None`, with nothing changed, if no single
    /// grant holds `range`.
    ///
    /// [`GrantMap::cut`]: crate::grant_map::GrantMap::cut
    pub(crate) fn take_part(&mut self, range: PageRange) -> Option<Grant> {
        let space = &mut *self.space;
        let Cut { base, part, head, tail, guard_above } = space.grants.cut(range)?;
        let guard_above = if guard_above { space.config.stack_guard_pages } else { 0 };
        space.gaps.release(range, guard_above);
        space.mapped_pages -= part.pages;
        if head {
            self.record(Undo::Split { base, at: range.start });
        }
        if tail {
            self.record(Undo::Split { base: range.start, at: range.end });
        }
        if self.mode == Mode::Undoable {
            self.log.push(Undo::RemovedGrant(part.clone()));
        }
        Some(part)
    }

    /// Sets the protection of the grants in `range` (cut at its ends
    /// already) in place, in one pass over the tree. Returns whether any of
    /// them lost a right (then their PTEs need restricting).
    pub(crate) fn set_prot(&mut self, range: PageRange, prot: crate::grant::Prot) -> bool {
        let mut lost = false;
        let undoable = self.mode == Mode::Undoable;
        for (_, grant) in self.space.grants.range_mut(range.start..range.end) {
            if undoable {
                self.log.push(Undo::ChangedGrant(grant.clone()));
            }
            lost |= !grant.prot.difference(prot).is_empty();
            grant.prot = prot;
        }
        lost
    }

    /// Cuts the grants at `range`'s ends, applies `change` to each grant
    /// inside it (taken out of the tree meanwhile; it must keep its range
    /// and its stack flag, which the gap index depends on), then merges
    /// what became alike (mprotect, madvise's fork marks). The gap index
    /// is not touched: no page changes between mapped and free.
    pub(crate) fn change_grants(&mut self, range: PageRange, mut change: impl FnMut(&mut Self, &mut Grant)) {
        self.split_at(range.start);
        self.split_at(range.end);
        let mut cursor = range.start;
        while let Some(base) = self.space.grants.range(cursor..range.end).next().map(|(b, _)| *b) {
            let Some(mut grant) = self.space.grants.remove(&base) else { break };
            if self.mode == Mode::Undoable {
                self.log.push(Undo::ChangedGrant(grant.clone()));
            }
            let (pages, grows_down) = (grant.pages, grant.grows_down);
            change(self, &mut grant);
            debug_assert!(grant.base == base && grant.pages == pages && grant.grows_down == grows_down);
            cursor = grant.end();
            self.space.grants.insert(base, grant);
        }
        self.merge_span(range.start, range.end);
    }

    /// Merges the grant ending at `boundary` with the one starting there, if
    /// they are the same kind of mapping, in place (no gap lies between
    /// them, so the gap index does not change).
    pub(crate) fn merge_at(&mut self, boundary: Page) {
        // Both neighbours from one descent.
        let mut near = self.space.grants.range_mut(..=boundary);
        let (Some((&high_base, high)), Some((&low_base, low))) = (near.next_back(), near.next_back()) else {
            return;
        };
        if high_base != boundary || !low.can_absorb(high) {
            return;
        }
        low.absorb(high);
        let Some(high) = self.space.grants.remove(&boundary) else { return };
        if self.mode == Mode::Undoable {
            self.log.push(Undo::Merged { low: low_base, high });
        }
    }

    /// Merges across every grant boundary in `[start, end]`.
    pub(crate) fn merge_span(&mut self, start: Page, end: Page) {
        // A merge needs a grant starting at the boundary.
        let mut cursor = start;
        while cursor <= end
            && let Some(boundary) = self.space.grants.range(cursor..=end).next().map(|(b, _)| *b)
        {
            self.merge_at(boundary);
            cursor = boundary.add(1);
        }
    }

    // ---- slots and references ----

    pub(crate) fn insert_slot(&mut self, page: Page, frame: PhysAddr) {
        self.space.insert_slot_raw(page, frame);
        self.record(Undo::InsertedSlot(page));
    }

    pub(crate) fn remove_slot(&mut self, page: Page) -> Option<PhysAddr> {
        let frame = self.space.remove_slot_raw(page)?;
        self.record(Undo::RemovedSlot(page, frame));
        Some(frame)
    }

    /// [`Self::remove_slot`] and [`Self::defer_put`] for every slot of
    /// `range`, visiting each block of the slot map once.
    pub(crate) fn drop_slots(&mut self, range: PageRange) {
        let undoable = self.mode == Mode::Undoable;
        let deferred = match self.mode {
            Mode::Infallible => &mut *self.tlb,
            Mode::Undoable => &mut self.local,
        };
        let (log, space) = (&mut self.log, &mut *self.space);
        let freeable = &mut space.freeable;
        let mut dropped = 0;
        space.slots.drain_range(range, |page, frame| {
            if !freeable.is_empty() {
                freeable.remove(&page);
            }
            if undoable {
                log.push(Undo::RemovedSlot(page, frame));
            }
            deferred.defer_put(frame);
            dropped += 1;
        });
        space.resident_pages -= dropped;
        #[cfg(test)]
        PEAK_LOG.with(|peak| peak.set(peak.get().max(self.log.len())));
    }

    /// Sets the guard marker of `page`.
    pub(crate) fn insert_guard(&mut self, page: Page) {
        if self.space.guards.insert(page) {
            self.record(Undo::InsertedGuard(page));
        }
    }

    /// Clears the guard marker of `page`.
    pub(crate) fn remove_guard(&mut self, page: Page) {
        if self.space.guards.remove(&page) {
            self.record(Undo::RemovedGuard(page));
        }
    }

    /// A new zeroed frame (one reference, owned by the operation until it
    /// is put in a slot).
    /// When frames are exhausted, this space's freeable pages (MADV_FREE)
    /// that have no PTE are reclaimed first and the allocation tried again
    /// ([`AddrSpace::reclaim_unmapped_freeable`]).
    pub(crate) fn allocate(&mut self) -> Option<PhysAddr> {
        let frame = match self.frames.allocate_zeroed() {
            Some(frame) => frame,
            None => self.reclaim_and(|frames| frames.allocate_zeroed())?,
        };
        self.record(Undo::TookRef(frame));
        Some(frame)
    }

    /// [`Self::allocate`] for a frame that starts as a copy of `from`.
    pub(crate) fn allocate_copy(&mut self, from: PhysAddr) -> Option<PhysAddr> {
        let frame = match self.frames.allocate_copy(from) {
            Some(frame) => frame,
            None => self.reclaim_and(|frames| frames.allocate_copy(from))?,
        };
        self.record(Undo::TookRef(frame));
        Some(frame)
    }

    /// Reclaims the space's unmapped freeable pages and, if that freed any,
    /// runs `again`. Not undone by a rollback (the pages read as zero
    /// afterwards, which MADV_FREE allows); nothing this operation logged
    /// refers to those pages: a slot it removed took its mark with it, and
    /// no operation removes a marked page's PTE while keeping its slot
    /// before it allocates.
    fn reclaim_and<T>(&mut self, again: impl FnOnce(&mut F) -> Option<T>) -> Option<T> {
        if self.space.reclaim_unmapped_freeable(self.frames) == 0 {
            return None;
        }
        again(self.frames)
    }

    pub(crate) fn take_ref(&mut self, frame: PhysAddr) {
        self.frames.get(frame);
        self.record(Undo::TookRef(frame));
    }

    /// Drops a removed grant's file pins if the operation commits.
    pub(crate) fn defer_unpin(&mut self, unpin: crate::file::Unpin) {
        self.deferred().defer_unpin(unpin);
    }
    /// Gives up a reference once the flush is done.
    pub(crate) fn defer_put(&mut self, frame: PhysAddr) {
        self.deferred().defer_put(frame);
    }

    /// Page `index` of `object` with one reference for this operation
    /// (undone by a rollback), allocating it if never touched. `None` when
    /// frames are exhausted.
    pub(crate) fn object_page(&mut self, object: &SharedObject, index: u64) -> Option<PhysAddr> {
        let (frame, new) = match object.get_ref_or_allocate(index, self.frames) {
            Some(got) => got,
            None => self.reclaim_and(|frames| object.get_ref_or_allocate(index, frames))?,
        };
        if new && self.mode == Mode::Undoable {
            self.log.push(Undo::ObjectPage(object.clone(), index));
        }
        self.record(Undo::TookRef(frame));
        Some(frame)
    }
}

impl<P: PageTable, F: FrameStore> Drop for Txn<'_, P, F> {
    fn drop(&mut self) {
        if !self.done {
            match self.mode {
                Mode::Undoable => self.rollback(),
                Mode::Infallible => self.finish_commit(),
            }
        }
        // Both emptied the log; its room goes back to the space.
        debug_assert!(self.log.is_empty());
        if self.log.capacity() <= SPARE_LOG_RECORDS {
            self.space.spare_log.0 = core::mem::take(&mut self.log);
        }
    }
}
