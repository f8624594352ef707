//! The slot map: page → the frame a space holds one reference to.
//!
//! Slots are looked up, added and dropped a page at a time on every fault,
//! fault-around, write-around and unmap, and pages come in runs: a fault
//! continues a run, munmap drops a range. So the map keeps blocks of
//! [`BLOCK_PAGES`] aligned pages, each a presence mask and its frames, in
//! a B-tree keyed by block: a lookup descends a tree with a 32nd of the
//! entries, and dropping a range visits each block once (dropping a block
//! that empties) instead of descending once per page.
//!
//! Memory: a block costs 264 bytes of kernel heap plus its tree entry,
//! whatever number of its pages holds a frame; a block exists only while
//! one of its pages holds a frame, so the map's size is bounded by the
//! space's resident pages (at most ~6.5% of the frames for a space that
//! touches one page in 32, less than 1% for runs).

use alloc::boxed::Box;
use alloc::collections::BTreeMap;

use rmm::PhysAddr;

use crate::page::{Page, PageRange};

/// Pages per block: the width of the presence mask.
pub const BLOCK_PAGES: u64 = 32;

/// The most blocks the slots of a run of `pages` pages can take (an
/// unaligned run touches one block more than it fills).
pub const fn blocks_for(pages: u64) -> u64 {
    pages.div_ceil(BLOCK_PAGES).saturating_add(1)
}

/// The frames of one aligned run of [`BLOCK_PAGES`] pages.
struct Block {
    /// Bit `i`: page `key * BLOCK_PAGES + i` holds `frames[i]`.
    present: u32,
    frames: [PhysAddr; BLOCK_PAGES as usize],
}

impl Block {
    fn empty() -> Self {
        Self { present: 0, frames: [PhysAddr::new(0); BLOCK_PAGES as usize] }
    }
}

/// One block of the map, borrowed to be edited in place
/// ([`SlotMap::block_mut`]): which of its pages hold a frame does not
/// change, only which frame.
pub(crate) struct BlockMut<'a> {
    key: u64,
    block: &'a mut Block,
}

impl BlockMut<'_> {
    /// The bit of `page` in the block, if `page` lies in it.
    fn bit(&self, page: Page) -> Option<u32> {
        let (key, bit) = locate(page);
        (key == self.key).then_some(bit)
    }

    /// The frame `page` holds (`None` also for a page outside the block).
    pub(crate) fn get(&self, page: Page) -> Option<PhysAddr> {
        let bit = self.bit(page)?;
        (self.block.present & (1 << bit) != 0).then(|| self.block.frames[bit as usize])
    }

    /// Gives `page`, which holds a frame in this block, `frame` instead;
    /// the frame it held.
    pub(crate) fn replace(&mut self, page: Page, frame: PhysAddr) -> PhysAddr {
        let bit = self.bit(page).filter(|bit| self.block.present & (1 << bit) != 0);
        let bit = bit.expect("replace of a page that holds no frame in this block") as usize;
        core::mem::replace(&mut self.block.frames[bit], frame)
    }

    /// The pages of the block that hold a frame: bit `i` for its page `i`.
    pub(crate) fn present(&self) -> u32 {
        self.block.present
    }
}

/// Page → frame, in blocks. See the module docs.
#[derive(Default)]
pub(crate) struct SlotMap {
    blocks: BTreeMap<u64, Box<Block>>,
    len: u64,
}

/// The block holding `page` and the page's bit in it.
fn locate(page: Page) -> (u64, u32) {
    (page.number() / BLOCK_PAGES, (page.number() % BLOCK_PAGES) as u32)
}

/// The bits of the block `key` that lie in `range`.
fn window(key: u64, range: PageRange) -> u32 {
    let base = key * BLOCK_PAGES;
    let from = range.start.number().max(base) - base;
    let to = range.end.number().min(base + BLOCK_PAGES) - base;
    if from >= to {
        return 0;
    }
    let below_to = if to == BLOCK_PAGES { u32::MAX } else { (1u32 << to) - 1 };
    below_to & !((1u32 << from) - 1)
}

/// The block keys that `range` touches, as a `BTreeMap` range (empty for
/// an empty page range).
fn keys(range: PageRange) -> core::ops::Range<u64> {
    if range.start >= range.end {
        return 0..0;
    }
    range.start.number() / BLOCK_PAGES..range.end.number().div_ceil(BLOCK_PAGES)
}

impl SlotMap {
    /// How many blocks the map holds (each costs its heap: module docs).
    pub(crate) fn blocks(&self) -> u64 {
        self.blocks.len() as u64
    }

    /// How many pages hold a frame.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The frame `page` holds.
    pub(crate) fn get(&self, page: Page) -> Option<PhysAddr> {
        let (key, bit) = locate(page);
        let block = self.blocks.get(&key)?;
        (block.present & (1 << bit) != 0).then(|| block.frames[bit as usize])
    }

    /// Whether `page` holds a frame.
    pub(crate) fn contains(&self, page: Page) -> bool {
        let (key, bit) = locate(page);
        self.blocks.get(&key).is_some_and(|block| block.present & (1 << bit) != 0)
    }

    /// Gives `page` the frame `frame`; the frame it held before, if any.
    pub(crate) fn insert(&mut self, page: Page, frame: PhysAddr) -> Option<PhysAddr> {
        let (key, bit) = locate(page);
        let block = self.blocks.entry(key).or_insert_with(|| Box::new(Block::empty()));
        let old = (block.present & (1 << bit) != 0).then(|| block.frames[bit as usize]);
        block.present |= 1 << bit;
        block.frames[bit as usize] = frame;
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Gives `page` the frame `make()` makes if it holds none, with one
    /// descent: `None` if it holds one (`make` not called), else whether
    /// it took one (`make` may decline with `None`).
    pub(crate) fn fill_vacant(&mut self, page: Page, make: impl FnOnce() -> Option<PhysAddr>) -> Option<bool> {
        let (key, bit) = locate(page);
        if let Some(block) = self.blocks.get_mut(&key) {
            if block.present & (1 << bit) != 0 {
                return None;
            }
            let Some(frame) = make() else { return Some(false) };
            block.present |= 1 << bit;
            block.frames[bit as usize] = frame;
        } else {
            let Some(frame) = make() else { return Some(false) };
            let mut block = Box::new(Block::empty());
            block.present = 1 << bit;
            block.frames[bit as usize] = frame;
            self.blocks.insert(key, block);
        }
        self.len += 1;
        Some(true)
    }

    /// The block holding `page`, to read and replace its frames in place
    /// (a run inside one block with one descent); `None` if it holds none.
    pub(crate) fn block_mut(&mut self, page: Page) -> Option<BlockMut<'_>> {
        let (key, _) = locate(page);
        self.blocks.get_mut(&key).map(|block| BlockMut { key, block })
    }

    /// Takes the frame `page` holds; the block goes when it empties.
    pub(crate) fn remove(&mut self, page: Page) -> Option<PhysAddr> {
        let (key, bit) = locate(page);
        let block = self.blocks.get_mut(&key)?;
        if block.present & (1 << bit) == 0 {
            return None;
        }
        block.present &= !(1 << bit);
        let frame = block.frames[bit as usize];
        if block.present == 0 {
            self.blocks.remove(&key);
        }
        self.len -= 1;
        Some(frame)
    }

    /// The pages of `range` that hold a frame, in order, with their frames.
    pub(crate) fn range(&self, range: PageRange) -> impl Iterator<Item = (Page, PhysAddr)> + '_ {
        self.blocks.range(keys(range)).flat_map(move |(&key, block)| {
            let mut bits = block.present & window(key, range);
            core::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let bit = bits.trailing_zeros();
                bits &= bits - 1;
                Some((Page::from_number(key * BLOCK_PAGES + u64::from(bit)), block.frames[bit as usize]))
            })
        })
    }

    /// Gives `to`, which holds no slot in `range`, the same frames as this
    /// map there, a block at a time (fork: one descent per block of the
    /// child's map, not one per page), calling `each` for every frame
    /// shared. Returns how many.
    pub(crate) fn share_range(&self, range: PageRange, to: &mut SlotMap, mut each: impl FnMut(PhysAddr)) -> u64 {
        let mut shared = 0;
        for (&key, block) in self.blocks.range(keys(range)) {
            let bits = block.present & window(key, range);
            if bits == 0 {
                continue;
            }
            let copy = to.blocks.entry(key).or_insert_with(|| Box::new(Block::empty()));
            debug_assert!(copy.present & bits == 0, "block {key} already holds some of the range");
            let mut left = bits;
            while left != 0 {
                let bit = left.trailing_zeros() as usize;
                left &= left - 1;
                copy.frames[bit] = block.frames[bit];
                each(block.frames[bit]);
            }
            copy.present |= bits;
            shared += u64::from(bits.count_ones());
        }
        to.len += shared;
        shared
    }

    /// How many pages of `range` hold a frame.
    pub(crate) fn count_in(&self, range: PageRange) -> u64 {
        let blocks = self.blocks.range(keys(range));
        blocks.map(|(&key, block)| u64::from((block.present & window(key, range)).count_ones())).sum()
    }

    /// Every page that holds a frame, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Page, PhysAddr)> + '_ {
        self.range(PageRange::new(Page::from_number(0), Page::from_number(u64::MAX)))
    }

    /// Takes every slot of `range`, in order, handing each to `each`:
    /// each block is visited once and dropped if it empties.
    pub(crate) fn drain_range(&mut self, range: PageRange, mut each: impl FnMut(Page, PhysAddr)) {
        let mut taken = 0;
        let mut drain = |key: u64, block: &mut Block| {
            let mut bits = block.present & window(key, range);
            block.present &= !bits;
            while bits != 0 {
                let bit = bits.trailing_zeros();
                bits &= bits - 1;
                taken += 1;
                each(Page::from_number(key * BLOCK_PAGES + u64::from(bit)), block.frames[bit as usize]);
            }
            block.present == 0
        };
        let keys = keys(range);
        if keys.end.saturating_sub(keys.start) == 1 {
            // A range inside one block (a small munmap; often a mapping
            // never touched, with no block at all): one lookup.
            if let Some(block) = self.blocks.get_mut(&keys.start)
                && drain(keys.start, block)
            {
                self.blocks.remove(&keys.start);
            }
        } else {
            self.blocks.extract_if(keys, |&key, block| drain(key, block)).for_each(drop);
        }
        self.len -= taken;
    }
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use super::*;

    fn page(n: u64) -> Page {
        Page::from_number(n)
    }

    fn frame(n: u64) -> PhysAddr {
        PhysAddr::new(0x10_0000 + n * 0x1000)
    }

    fn pages(range: PageRange, map: &SlotMap) -> Vec<u64> {
        map.range(range).map(|(p, _)| p.number()).collect()
    }

    #[test]
    fn insert_get_remove_across_block_edges() {
        let mut map = SlotMap::default();
        for n in [0, 31, 32, 63, 64, 1000] {
            assert_eq!(map.insert(page(n), frame(n)), None);
        }
        assert_eq!(map.insert(page(31), frame(7)), Some(frame(31)), "a second insert replaces");
        assert_eq!(map.len(), 6);
        assert_eq!(map.get(page(31)), Some(frame(7)));
        assert_eq!(map.get(page(30)), None);
        assert!(map.contains(page(64)) && !map.contains(page(65)));
        assert_eq!(pages(PageRange::new(page(0), page(2000)), &map), [0, 31, 32, 63, 64, 1000]);
        assert_eq!(pages(PageRange::new(page(31), page(64)), &map), [31, 32, 63]);
        assert_eq!(pages(PageRange::new(page(5), page(5)), &map), [] as [u64; 0]);
        assert_eq!(map.count_in(PageRange::new(page(1), page(65))), 4);
        assert_eq!(map.remove(page(1000)), Some(frame(1000)));
        assert_eq!(map.remove(page(1000)), None);
        assert_eq!(map.blocks.len(), 3, "an emptied block goes");
        assert_eq!(map.fill_vacant(page(0), || panic!("called for an occupied page")), None);
        assert_eq!(map.fill_vacant(page(5), || None), Some(false), "declined");
        assert_eq!(map.fill_vacant(page(5), || Some(frame(5))), Some(true));
        assert_eq!(map.fill_vacant(page(500), || None), Some(false), "declined, no block made");
        assert_eq!(map.blocks.len(), 3);
        assert_eq!(map.fill_vacant(page(500), || Some(frame(500))), Some(true), "in a new block");
        assert_eq!(map.get(page(0)), Some(frame(0)));
        assert_eq!((map.len(), map.iter().count() as u64), (7, 7));
    }

    #[test]
    fn a_borrowed_block_reads_and_replaces_only_its_own_pages() {
        let mut map = SlotMap::default();
        for n in [32, 40, 63, 64] {
            map.insert(page(n), frame(n));
        }
        assert!(map.block_mut(page(0)).is_none(), "no block, no handle");
        let mut block = map.block_mut(page(33)).expect("block 1");
        assert_eq!(block.present(), 1 | 1 << 8 | 1 << 31);
        assert_eq!(block.get(page(40)), Some(frame(40)));
        assert_eq!(block.get(page(41)), None, "a vacant page");
        assert_eq!(block.get(page(64)), None, "the next block's page is not this block's");
        assert_eq!(block.replace(page(63), frame(7)), frame(63));
        assert_eq!(map.get(page(63)), Some(frame(7)));
        assert_eq!((map.len(), map.blocks()), (4, 2), "a replace adds and drops nothing");
    }

    #[test]
    fn share_range_copies_exactly_the_range_into_another_map() {
        let mut map = SlotMap::default();
        for n in (0..100).chain([200, 300]) {
            map.insert(page(n), frame(n));
        }
        let mut child = SlotMap::default();
        child.insert(page(5), frame(5));
        child.insert(page(300), frame(9));
        let mut seen = Vec::new();
        let shared = map.share_range(PageRange::new(page(10), page(250)), &mut child, |f| seen.push(f));
        let expect: Vec<u64> = (10..100).chain([200]).collect();
        assert_eq!(shared, expect.len() as u64);
        assert_eq!(seen, expect.iter().map(|&n| frame(n)).collect::<Vec<_>>());
        assert_eq!(child.len(), shared + 2);
        let all: Vec<_> = child.iter().map(|(p, f)| (p.number(), f)).collect();
        let want: Vec<_> =
            [(5, frame(5))].into_iter().chain(expect.iter().map(|&n| (n, frame(n)))).chain([(300, frame(9))]).collect();
        assert_eq!(all, want, "the range's frames added, the child's own kept");
        assert_eq!(map.len(), 102, "the source is unchanged");
    }

    #[test]
    #[should_panic(expected = "holds no frame")]
    fn a_borrowed_block_refuses_to_replace_a_vacant_page() {
        let mut map = SlotMap::default();
        map.insert(page(32), frame(32));
        map.block_mut(page(32)).unwrap().replace(page(33), frame(1));
    }

    #[test]
    fn drain_range_takes_exactly_the_range_and_drops_emptied_blocks() {
        let mut map = SlotMap::default();
        for n in 0..200 {
            map.insert(page(n), frame(n));
        }
        let mut taken = Vec::new();
        map.drain_range(PageRange::new(page(10), page(150)), |p, f| taken.push((p.number(), f)));
        assert_eq!(taken, (10..150).map(|n| (n, frame(n))).collect::<Vec<_>>());
        assert_eq!(map.len(), 60);
        assert_eq!(pages(PageRange::new(page(0), page(300)), &map), (0..10).chain(150..200).collect::<Vec<_>>());
        // Blocks 0 (pages 0-9), 4 (150-159), 5 and 6 (160-199) are left.
        assert_eq!(map.blocks.keys().copied().collect::<Vec<_>>(), [0, 4, 5, 6]);
        map.drain_range(PageRange::new(page(0), page(1000)), |_, _| {});
        assert_eq!((map.len(), map.blocks.len()), (0, 0));
    }

    /// A range inside one block (one lookup): a block with nothing there,
    /// no block at all, part of a block (kept) and its last pages (dropped).
    #[test]
    fn drain_range_inside_one_block() {
        let mut map = SlotMap::default();
        for n in [33, 34, 40] {
            map.insert(page(n), frame(n));
        }
        let mut taken = Vec::new();
        map.drain_range(PageRange::new(page(35), page(40)), |p, f| taken.push((p.number(), f)));
        map.drain_range(PageRange::new(page(100), page(101)), |p, f| taken.push((p.number(), f)));
        assert!(taken.is_empty());
        map.drain_range(PageRange::new(page(34), page(36)), |p, f| taken.push((p.number(), f)));
        assert_eq!(taken, [(34, frame(34))]);
        assert_eq!((map.len(), map.blocks.keys().copied().collect::<Vec<_>>()), (2, std::vec![1]));
        taken.clear();
        map.drain_range(PageRange::new(page(33), page(64)), |p, f| taken.push((p.number(), f)));
        assert_eq!(taken, [(33, frame(33)), (40, frame(40))]);
        assert_eq!((map.len(), map.blocks.len()), (0, 0));
    }
}
