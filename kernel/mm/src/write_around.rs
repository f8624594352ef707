//! Write-around: a write fault on private anonymous memory that continues a
//! run of written pages also makes the rest of its aligned block writable.
//!
//! A program that writes memory in order (filling a buffer, a child of
//! `fork` rewriting its copy) otherwise takes one fault per page; under
//! emulation and on hardware alike the fault's entry and exit cost several
//! times what the page itself costs. So when a write fault at page `p` has
//! left `p` with a frame of its own, and page `p - 1` of the same grant
//! already has one too (the run), each later page of `p`'s
//! [`WRITE_AROUND_PAGES`]-aligned block, within the grant, is made what a
//! write fault would make it:
//!
//! - never touched (no frame, no PTE): a new zeroed frame, mapped writable
//!   (demand zero);
//! - its frame shared copy-on-write (after `fork`), mapped read-only: a
//!   private copy, mapped writable, the old PTE flushed;
//! - its frame already only ours, mapped read-only: the PTE made writable.
//!
//! Anything else (a guard marker, a page marked freeable by MADV_FREE,
//! the zero frame mapped for a read, a frame with no PTE) is left to its
//! own fault. This is Linux's fault-around applied to anonymous writes,
//! which Linux does with multi-size THP (`mTHP`, folios of 16 KiB to 2 MiB,
//! as configured) when they are enabled; here it needs no large frames and
//! only follows a run, so a program touching one page here and there gets
//! exactly the pages it touched. It is best effort: it runs after the fault
//! has committed, on the first frame lacking it stops, and it never fails
//! the fault. The block lies in the faulting page's leaf table (32 divides
//! 512), so it allocates no page-table page, and it is one block of the
//! slot map (`slots::BLOCK_PAGES`), looked up once.
//!
//! Why 32 pages (128 KiB): under QEMU's TCG a fault's entry and exit cost
//! the host far more than their instructions (in `make profile` the #PF
//! entry stub alone takes about a tenth of `mmap_touch_unmap_1m`'s
//! samples), so halving the faults of a sequential writer paid: against
//! 16 pages, in three pairs of boots of
//! the root-only bench image, `fork_cow_16m` took 0.58-0.67 of the time,
//! `mmap_touch_unmap_1m` 0.68-0.97 and `fault_anon` 0.57-0.92 (under
//! `-icount` 6%, 4% and 6% fewer instructions).
//!
//! Cost: up to 31 pages written to memory before the program writes them
//! (one block), one slot per page, as if each had been touched.

use crate::fault::Access;
use crate::page::{Page, PageRange};
use crate::provider::Provider;
use crate::shootdown::Shootdown;
use crate::slots::BLOCK_PAGES;
use crate::space::AddrSpace;
use crate::traits::{FrameStore, PageTable};
use crate::txn::{Mode, Txn};

/// The block a sequential write fault fills: 128 KiB, one slot-map block
/// (module docs: why).
pub const WRITE_AROUND_PAGES: u64 = BLOCK_PAGES;

impl<P: PageTable> AddrSpace<P> {
    /// After a committed `access` fault at `page`: when it was a write that
    /// continues a run of private anonymous pages, makes the rest of the
    /// block writable (module docs). Returns how many pages it changed.
    pub(crate) fn write_around(
        &mut self,
        frames: &mut impl FrameStore,
        page: Page,
        access: Access,
        tlb: &mut Shootdown,
    ) -> u64 {
        if access != Access::Write || !self.config.write_around {
            return 0;
        }
        let Some(grant) = self.grant_containing(page) else { return 0 };
        if !matches!(grant.provider, Provider::Allocated) || page == grant.base {
            return 0;
        }
        let owned = |p: Page| self.slots.get(p).is_some_and(|frame| frames.refcount(frame) == 1);
        if !owned(page) || !owned(Page::from_number(page.number() - 1)) {
            return 0;
        }
        let block_end = (page.number() / WRITE_AROUND_PAGES + 1) * WRITE_AROUND_PAGES;
        let end = block_end.min(grant.end().number());
        let flags = grant.pte_flags(true);
        let rest = PageRange::new(page.add(1), Page::from_number(end.max(page.number() + 1)));
        // The run lies in the slot-map block of `page` (the same size,
        // aligned), which holds a frame: which of its pages hold one, at one look.
        let bit = |p: Page| 1u32 << (p.number() % BLOCK_PAGES);
        let present = self.slots.block_mut(page).map_or(0, |block| block.present());
        let held = (rest.start.number()..rest.end.number()).any(|n| present & bit(Page::from_number(n)) != 0);
        let mut tx = Txn::new(self, frames, tlb, Mode::Infallible);
        // The pages holding a frame (after fork, all of them): one pass
        // over the leaf table, the slots edited in place.
        let (mut changed, starved) = if held { tx.raise_private_ptes(rest, flags) } else { (0, false) };
        let mut number = rest.start.number();
        while !starved && number < rest.end.number() {
            let p = Page::from_number(number);
            number += 1;
            // A page holding a frame had its turn above.
            if present & bit(p) != 0 || tx.space.guards.contains(&p) || tx.space.freeable.contains(&p) {
                continue;
            }
            // Untouched (no frame): a new zeroed one. A PTE without a slot
            // (the zero frame, mapped for a read) is left alone.
            let space = &mut *tx.space;
            let (table, store) = (&mut space.table, &mut *tx.frames);
            let mut lacking = false;
            let filled = space.slots.fill_vacant(p, || {
                if table.translate(p.start()).is_some() {
                    return None;
                }
                let frame = store.allocate_zeroed();
                let mapped = frame.filter(|&frame| table.map(p.start(), frame, flags).is_ok());
                if let (Some(frame), None) = (frame, mapped) {
                    store.put(frame);
                }
                lacking = mapped.is_none();
                mapped
            });
            match filled {
                Some(true) => {
                    space.resident_pages += 1;
                    changed += 1;
                }
                Some(false) if lacking => break,
                _ => {}
            }
        }
        tx.commit();
        changed
    }
}
