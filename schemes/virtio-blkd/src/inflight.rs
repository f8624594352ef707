//! The requests a device has in flight: which of the driver's request
//! slots (each a header, a status byte and a bounce buffer in its DMA
//! memory) are free, which request each busy one carries, and what the
//! *queued* writes (answered before the device is done with them,
//! docs/drivers.md, "Queued writes") came to.
//!
//! The slots' bounce buffers are pages of one [`Arena`] of DMA memory,
//! taken per request (as many as its data needs) and given back with its
//! slot: many small requests (a file system's 4 KiB blocks) can be with the
//! device at once in little memory, and one large request still fits.
//!
//! A request is known by the token the virtqueue gave it. A synchronous
//! request's outcome stays in its slot until the waiter takes it
//! ([`Inflight::result`]); a queued write's frees the slot at once, and a
//! failure is only counted, for the next [`Inflight::take_failures`].

/// One slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Free,
    /// A request the device has: its token, and whether it is a queued write.
    Busy {
        token: u16,
        queued: bool,
    },
    /// A synchronous request the device is done with: whether it succeeded.
    Done {
        ok: bool,
    },
}

/// `N` slots.
#[derive(Debug)]
pub struct Inflight<const N: usize> {
    slots: [Slot; N],
    /// Queued writes that failed since the last `take_failures`.
    failures: u64,
    /// The most requests the device had at once.
    peak: usize,
}

impl<const N: usize> Default for Inflight<N> {
    fn default() -> Self {
        Self { slots: [Slot::Free; N], failures: 0, peak: 0 }
    }
}

impl<const N: usize> Inflight<N> {
    /// A free slot, if any.
    pub fn free(&self) -> Option<usize> {
        self.slots.iter().position(|s| *s == Slot::Free)
    }

    /// Notes that free `slot` carries the request `token`.
    pub fn start(&mut self, slot: usize, token: u16, queued: bool) {
        debug_assert_eq!(self.slots[slot], Slot::Free);
        self.slots[slot] = Slot::Busy { token, queued };
        self.peak = self.peak.max(self.busy());
    }

    /// The slot carrying `token`, if one does.
    pub fn slot_of(&self, token: u16) -> Option<usize> {
        self.slots.iter().position(|s| matches!(*s, Slot::Busy { token: t, .. } if t == token))
    }

    /// Notes that the device is done with the request in `slot`: a queued
    /// write's slot is free again (a failure counted), a synchronous
    /// request's keeps `ok` for its waiter.
    pub fn finish(&mut self, slot: usize, ok: bool) {
        let Slot::Busy { queued, .. } = self.slots[slot] else { return };
        self.slots[slot] = if queued {
            self.failures += u64::from(!ok);
            Slot::Free
        } else {
            Slot::Done { ok }
        };
    }

    /// A synchronous request's outcome once the device is done with it
    /// (its slot is then free), else `None`.
    pub fn result(&mut self, slot: usize) -> Option<bool> {
        let Slot::Done { ok } = self.slots[slot] else { return None };
        self.slots[slot] = Slot::Free;
        Some(ok)
    }

    /// Whether `slot` holds a synchronous request's outcome.
    pub fn result_ready(&self, slot: usize) -> bool {
        matches!(self.slots[slot], Slot::Done { .. })
    }

    /// Whether `slot` is free (no request, no outcome left in it).
    pub fn is_free(&self, slot: usize) -> bool {
        self.slots[slot] == Slot::Free
    }

    /// Whether the device has `slot`'s request.
    pub fn is_busy(&self, slot: usize) -> bool {
        matches!(self.slots[slot], Slot::Busy { .. })
    }

    /// Whether `slot` carries a queued write.
    pub fn is_queued(&self, slot: usize) -> bool {
        matches!(self.slots[slot], Slot::Busy { queued: true, .. })
    }

    /// Requests the device has.
    pub fn busy(&self) -> usize {
        self.slots.iter().filter(|s| matches!(s, Slot::Busy { .. })).count()
    }

    /// Queued writes the device has not answered yet.
    pub fn queued(&self) -> usize {
        self.slots.iter().filter(|s| matches!(s, Slot::Busy { queued: true, .. })).count()
    }

    /// How many queued writes failed since the last call; the count starts
    /// again from 0.
    pub fn take_failures(&mut self) -> u64 {
        core::mem::take(&mut self.failures)
    }

    /// The most requests the device had at once.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// Every request the device has is lost (the driver cannot wait for
    /// it any more): queued writes count as failed, synchronous ones fail.
    pub fn abandon(&mut self) {
        for slot in 0..N {
            self.finish(slot, false);
        }
    }
}

/// Up to 128 pages handed out as runs: first fit, given back by the run.
#[derive(Debug)]
pub struct Arena {
    /// Bit `i`: page `i` is taken.
    used: u128,
    pages: usize,
}

impl Arena {
    /// An arena of `pages` pages (at most 128), all free.
    pub const fn new(pages: usize) -> Self {
        assert!(pages <= 128);
        Self { used: 0, pages }
    }

    /// The first page of the first free run of `n` pages (`n` at least 1),
    /// if there is one.
    fn find(&self, n: usize) -> Option<usize> {
        let run = 1u128.checked_shl(n as u32).map_or(u128::MAX, |bit| bit - 1);
        (0..=self.pages.checked_sub(n)?).find(|&first| self.used & (run << first) == 0)
    }

    /// Whether a run of `n` pages is free (no pages always are).
    pub fn fits(&self, n: usize) -> bool {
        n == 0 || self.find(n).is_some()
    }

    /// Takes the first free run of `n` pages: its first page. `Some(0)` for
    /// no pages.
    pub fn take(&mut self, n: usize) -> Option<usize> {
        if n == 0 {
            return Some(0);
        }
        let first = self.find(n)?;
        self.used |= Self::bits(first, n);
        Some(first)
    }

    /// Gives back the run of `n` pages at `first` that [`Self::take`] gave.
    pub fn give(&mut self, first: usize, n: usize) {
        if n > 0 {
            debug_assert_eq!(self.used & Self::bits(first, n), Self::bits(first, n), "a run that was taken");
            self.used &= !Self::bits(first, n);
        }
    }

    /// Pages taken.
    pub fn taken(&self) -> usize {
        self.used.count_ones() as usize
    }

    fn bits(first: usize, n: usize) -> u128 {
        (1u128.checked_shl(n as u32).map_or(u128::MAX, |bit| bit - 1)) << first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_runs_are_first_fit_and_given_back() {
        let mut a = Arena::new(8);
        assert_eq!((a.take(3), a.take(2), a.take(0)), (Some(0), Some(3), Some(0)));
        assert!(a.fits(3) && !a.fits(4), "3 pages left at the end");
        assert_eq!(a.take(4), None);
        a.give(0, 3);
        assert_eq!(a.take(4), None, "3 + 3 free, not in one run");
        assert_eq!((a.take(2), a.taken()), (Some(0), 4));
        assert_eq!(a.take(3), Some(5));
        assert!(!a.fits(2) && a.fits(1) && a.fits(0));
        a.give(3, 2);
        a.give(0, 2);
        a.give(5, 3);
        assert_eq!((a.taken(), a.take(8), a.take(1)), (0, Some(0), None));
        let mut whole = Arena::new(128);
        assert_eq!((whole.take(128), whole.fits(1)), (Some(0), false));
        whole.give(0, 128);
        assert_eq!((whole.take(127), whole.take(1), whole.take(1)), (Some(0), Some(127), None));
        assert_eq!(Arena::new(4).take(5), None, "more than it has");
    }

    #[test]
    fn queued_writes_free_their_slots_and_count_failures() {
        let mut f = Inflight::<3>::default();
        for (slot, token) in [(0, 10), (1, 11), (2, 12)] {
            assert_eq!(f.free(), Some(slot));
            f.start(slot, token, true);
        }
        assert_eq!((f.free(), f.busy(), f.queued(), f.peak()), (None, 3, 3, 3));
        f.finish(f.slot_of(11).unwrap(), false);
        f.finish(f.slot_of(10).unwrap(), true);
        assert_eq!((f.free(), f.queued()), (Some(0), 1));
        assert_eq!(f.take_failures(), 1);
        assert_eq!(f.take_failures(), 0, "a failure is reported once");
        f.finish(f.slot_of(12).unwrap(), false);
        assert_eq!((f.busy(), f.take_failures(), f.peak()), (0, 1, 3));
    }

    #[test]
    fn a_synchronous_request_keeps_its_outcome_until_taken() {
        let mut f = Inflight::<2>::default();
        f.start(0, 7, true);
        f.start(1, 8, false);
        assert_eq!(f.result(1), None, "not done yet");
        f.finish(1, false);
        assert_eq!((f.free(), f.busy(), f.queued()), (None, 1, 1), "its slot is held for the waiter");
        assert_eq!(f.result(1), Some(false));
        assert_eq!((f.free(), f.result(1)), (Some(1), None));
        assert_eq!(f.take_failures(), 0, "a synchronous failure is its waiter's, not counted");
        assert_eq!(f.slot_of(8), None);
        assert_eq!(f.slot_of(7), Some(0));
    }

    #[test]
    fn abandoning_fails_everything_in_flight() {
        let mut f = Inflight::<3>::default();
        f.start(0, 1, true);
        f.start(1, 2, false);
        f.start(2, 3, true);
        f.abandon();
        assert_eq!((f.busy(), f.take_failures(), f.result(1)), (0, 2, Some(false)));
        assert_eq!(f.free(), Some(0));
    }
}
