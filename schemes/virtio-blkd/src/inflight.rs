//! The requests a device has in flight: which of the driver's request
//! slots (each a header, a status byte and a bounce buffer in its DMA
//! memory) are free, which request each busy one carries, and what the
//! *queued* writes (answered before the device is done with them,
//! docs/drivers.md, "Queued writes") came to.
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

#[cfg(test)]
mod tests {
    use super::*;

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
