//! The device's last known bytes, per transfer: what redoxfsd read or
//! wrote, kept so that reading a block back costs no device request.
//!
//! redoxfs reads a block or record with the same address and length it
//! wrote it with, so the cache keeps *transfers*: `(first block, bytes)`.
//! A read of the same start and length is answered from here; a write
//! replaces what it overlaps; a failed write forgets what it overlaps (the
//! device's bytes there are unknown). Coherent because this daemon is the
//! device's only user.
//!
//! Cheap per call, since a root write-back's commit puts about 40 blocks
//! and each transaction reads the tree's path from here:
//! - a transfer is kept without its **zero tail** (a 4 KiB block holding a
//!   compressed record of about 1 KiB is a 1 KiB copy, and counts about
//!   that toward the limit); a hit writes the zeros back;
//! - eviction is **CLOCK** (second chance), not exact LRU: a hit only sets
//!   the entry's mark, where keeping an order by last use cost two tree
//!   operations per hit and per put; beyond [`BLOCK_CACHE_BYTES`] the
//!   oldest unmarked entry goes (a marked one loses its mark and goes to
//!   the back);
//! - the buffer of an entry that goes is reused for the next one (if it is
//!   at most twice the size needed); an entry counts its buffer's capacity.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use redoxfs::BLOCK_SIZE;

/// The bytes [`BlockCache`] holds at most (zero tails not counted): 8 MiB.
pub const BLOCK_CACHE_BYTES: usize = 8 << 20;

/// The largest transfer the cache keeps (a RedoxFS record is at most
/// 128 KiB); larger ones pass through.
pub const CACHED_TRANSFER_MAX: usize = 128 << 10;

/// What each entry costs beyond its bytes, for the limit.
const ENTRY_OVERHEAD: usize = 64;

/// One transfer.
struct Entry {
    /// Its bytes up to the zero tail.
    bytes: Vec<u8>,
    /// Its length, zero tail included.
    len: usize,
    /// Read since it came in or last had a second chance.
    used: bool,
    /// When it came in (its place in [`BlockCache::order`]).
    stamp: u64,
    /// What it counts toward the limit: its buffer's capacity and
    /// [`ENTRY_OVERHEAD`].
    cost: usize,
}

/// Transfers as the device last had them (module docs).
#[derive(Default)]
pub struct BlockCache {
    entries: BTreeMap<u64, Entry>,
    /// `(first block, stamp)` in the order entries came in; a pair whose
    /// entry is gone or newer is skipped.
    order: VecDeque<(u64, u64)>,
    stamp: u64,
    /// What the entries count toward the limit.
    bytes: usize,
    /// A buffer of an entry that went, for the next one.
    spare: Vec<u8>,
}

impl BlockCache {
    /// Fills `buffer` with the cached transfer at `block` if it is exactly
    /// `buffer.len()` bytes: whether it was.
    pub fn read(&mut self, block: u64, buffer: &mut [u8]) -> bool {
        let Some(entry) = self.entries.get_mut(&block) else { return false };
        if entry.len != buffer.len() {
            return false;
        }
        let (bytes, zeros) = buffer.split_at_mut(entry.bytes.len());
        bytes.copy_from_slice(&entry.bytes);
        zeros.fill(0);
        entry.used = true;
        true
    }

    /// Forgets every entry overlapping `len` bytes at `block`.
    pub fn forget(&mut self, block: u64, len: usize) {
        let end = block + (len as u64).div_ceil(BLOCK_SIZE);
        let first = block.saturating_sub(CACHED_TRANSFER_MAX as u64 / BLOCK_SIZE);
        while let Some(start) = self
            .entries
            .range(first..end)
            .find(|(start, entry)| **start + (entry.len as u64).div_ceil(BLOCK_SIZE) > block)
            .map(|(start, _)| *start)
        {
            self.remove(start);
        }
    }

    /// Keeps `data` as the device's bytes at `block`.
    pub fn put(&mut self, block: u64, data: &[u8]) {
        self.put_with_tail(block, data, crate::disk::zero_tail(data));
    }

    /// [`Self::put`] of `data` whose last `zeros` bytes are known to be
    /// zero, as [`crate::disk::zero_tail`] counts them (the caller counted
    /// them already).
    pub fn put_with_tail(&mut self, block: u64, data: &[u8], zeros: usize) {
        debug_assert_eq!(zeros, crate::disk::zero_tail(data));
        self.forget(block, data.len());
        if data.len() > CACHED_TRANSFER_MAX {
            return;
        }
        let kept = &data[..data.len() - zeros];
        while self.bytes + kept.len() + ENTRY_OVERHEAD > BLOCK_CACHE_BYTES && self.evict_one() {}
        // The spare only if it is not much larger than needed (a record's
        // 128 KiB buffer is not kept for a 1 KiB block).
        let mut bytes = core::mem::take(&mut self.spare);
        if bytes.capacity() > 2 * kept.len().max(BLOCK_SIZE as usize) {
            bytes = Vec::new();
        }
        bytes.clear();
        bytes.extend_from_slice(kept);
        let cost = bytes.capacity() + ENTRY_OVERHEAD;
        self.stamp += 1;
        self.order.push_back((block, self.stamp));
        self.entries.insert(block, Entry { bytes, len: data.len(), used: false, stamp: self.stamp, cost });
        self.bytes += cost;
        // Pairs of entries that went before their turn: dropped once they
        // outnumber the entries.
        if self.order.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.order.retain(|(block, stamp)| entries.get(block).is_some_and(|e| e.stamp == *stamp));
        }
    }

    /// Evicts the oldest entry without a mark (marked ones lose it and go
    /// to the back): whether one went.
    fn evict_one(&mut self) -> bool {
        while let Some((block, stamp)) = self.order.pop_front() {
            let Some(entry) = self.entries.get_mut(&block).filter(|e| e.stamp == stamp) else { continue };
            if core::mem::take(&mut entry.used) {
                self.order.push_back((block, stamp));
                continue;
            }
            self.remove(block);
            return true;
        }
        false
    }

    /// Removes the entry at `block`, keeping its buffer as the spare.
    fn remove(&mut self, block: u64) {
        if let Some(entry) = self.entries.remove(&block) {
            self.bytes -= entry.cost;
            self.spare = entry.bytes;
        }
    }

    /// What the entries count toward the limit (tests).
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The cached transfer at `block` if it is exactly `len` bytes (tests).
    #[cfg(test)]
    pub fn get(&mut self, block: u64, len: usize) -> Option<Vec<u8>> {
        let mut buffer = alloc::vec![0u8; len];
        self.read(block, &mut buffer).then_some(buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_transfers_hit_overlaps_are_replaced_and_unmarked_old_ones_go() {
        let mut cache = BlockCache::default();
        cache.put(10, &[1u8; 8192]);
        assert_eq!(cache.get(10, 8192).map(|d| d[0]), Some(1));
        assert!(cache.get(10, 4096).is_none(), "another length is a miss");
        assert!(cache.get(11, 4096).is_none(), "another start is a miss");
        // A write over the second block replaces the whole transfer.
        cache.put(11, &[2u8; 4096]);
        assert!(cache.get(10, 8192).is_none());
        assert_eq!(cache.get(11, 4096).map(|d| d[0]), Some(2));
        cache.forget(8, 3 * 4096 + 1);
        assert!(cache.get(11, 4096).is_none(), "forgotten: overlapped");
        assert_eq!(cache.bytes(), 0);
        // Larger than a record: not kept.
        cache.put(0, &alloc::vec![3u8; CACHED_TRANSFER_MAX + 4096]);
        assert_eq!(cache.bytes(), 0);
        // Past the limit, the oldest that was not read again goes first;
        // one read again stays.
        let record = alloc::vec![4u8; CACHED_TRANSFER_MAX];
        let n = (BLOCK_CACHE_BYTES / (CACHED_TRANSFER_MAX + ENTRY_OVERHEAD)) as u64;
        for i in 0..n {
            cache.put(1000 + i * 32, &record);
        }
        assert!(cache.get(1000, CACHED_TRANSFER_MAX).is_some(), "read again: marked");
        cache.put(1000 + n * 32, &record);
        assert!(cache.bytes() <= BLOCK_CACHE_BYTES);
        assert!(cache.get(1000, CACHED_TRANSFER_MAX).is_some(), "its second chance");
        assert!(cache.get(1032, CACHED_TRANSFER_MAX).is_none(), "the oldest unmarked went");
        assert!(cache.get(1064, CACHED_TRANSFER_MAX).is_some());
    }

    #[test]
    fn zero_tails_are_not_kept_and_come_back_as_zeros() {
        let mut cache = BlockCache::default();
        let mut block = [0u8; 4096];
        block[..1000].fill(7);
        cache.put(5, &block);
        assert!(cache.bytes() < 1100 + ENTRY_OVERHEAD, "the zero tail costs nothing");
        let mut back = [0xEEu8; 4096];
        assert!(cache.read(5, &mut back));
        assert_eq!(back, block, "a hit writes the zeros");
        cache.put(6, &[0u8; 4096]);
        assert_eq!(cache.get(6, 4096), Some(alloc::vec![0u8; 4096]), "a block of zeros");
        // Forgetting and putting again many times keeps the order bounded.
        for i in 0..1000 {
            cache.put(100 + i % 3, &block);
        }
        assert!(cache.order.len() <= 2 * cache.entries.len() + 64 + 1);
        assert_eq!(cache.entries.len(), 5);
        // A record's large buffer, once it goes, is not kept for a small
        // block: what the cache holds stays what it counts.
        let mut cache = BlockCache::default();
        cache.put(0, &alloc::vec![9u8; CACHED_TRANSFER_MAX]);
        cache.forget(0, CACHED_TRANSFER_MAX);
        cache.put(100, &block);
        let held: usize = cache.entries.values().map(|e| e.bytes.capacity()).sum();
        assert!(held < 2 * 4096, "{held} bytes held for a 1000-byte entry");
        assert_eq!(cache.bytes(), held + ENTRY_OVERHEAD);
    }
}
