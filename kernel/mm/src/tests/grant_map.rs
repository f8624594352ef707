//! The chunked grant map against a `BTreeMap` model: random insertions,
//! removals, lookups and ranges (every kind of bound, walked from both
//! ends), with the chunks' invariants checked after every change; and the
//! hysteresis that keeps a toggle from splitting and merging chunks; and
//! mmap's placement and munmap's cut (`place`, `cut`) against a model of
//! non-overlapping grants, in maps of one chunk and of many.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::harness::Rng;
use crate::Prot;
use crate::grant::Grant;
use crate::grant_map::{CHUNK, Cut, GrantMap, Placed};
use crate::page::{Page, PageRange};
use crate::provider::Provider;

fn grant(base: u64, pages: u64) -> Grant {
    Grant {
        base: Page::from_number(base),
        pages,
        prot: Prot::READ,
        grows_down: false,
        dont_fork: false,
        wipe_on_fork: false,
        lend_aside: false,
        provider: Provider::Allocated,
    }
}

fn bound(rng: &mut Rng, keys: u64) -> Bound<Page> {
    let page = Page::from_number(rng.below(keys + 2));
    match rng.below(3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(page),
        _ => Bound::Excluded(page),
    }
}

/// Whether `(lo, hi)` is a range `BTreeMap::range` accepts.
fn valid(lo: Bound<Page>, hi: Bound<Page>) -> bool {
    match (lo, hi) {
        (Bound::Excluded(a), Bound::Excluded(b)) => a < b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a <= b,
        _ => true,
    }
}

/// Both maps' grants in `(lo, hi)`, taken alternately from the front and
/// the back as `rng` says, as (base, pages).
fn walk(map: &GrantMap, model: &BTreeMap<Page, u64>, lo: Bound<Page>, hi: Bound<Page>, rng: &mut Rng) {
    let mut ours = map.range((lo, hi));
    let mut theirs = model.range((lo, hi));
    loop {
        let (a, b) = if rng.chance(50) {
            (ours.next().map(|(k, g)| (*k, g.pages)), theirs.next().map(|(k, p)| (*k, *p)))
        } else {
            (ours.next_back().map(|(k, g)| (*k, g.pages)), theirs.next_back().map(|(k, p)| (*k, *p)))
        };
        assert_eq!(a, b, "range {lo:?}..{hi:?}");
        if a.is_none() {
            break;
        }
    }
}

fn run(seed: u64, keys: u64, steps: usize, check_every: usize) {
    let mut rng = Rng::new(seed);
    let mut map = GrantMap::default();
    let mut model: BTreeMap<Page, u64> = BTreeMap::new();
    for step in 0..steps {
        let key = rng.below(keys);
        let page = Page::from_number(key);
        match rng.below(12) {
            10 => {
                let hi = Page::from_number(key + rng.below(5));
                map.remove_span(page, hi);
                let gone: Vec<Page> = model.range(page..=hi).map(|(k, _)| *k).collect();
                for k in gone {
                    model.remove(&k);
                }
            }
            11 => {
                let b = key + 1 + rng.below(3);
                let (pa, pb) = (page, Page::from_number(b));
                if model.range(pa..=pb).next().is_none() {
                    map.insert_pair((pa, grant(key, 1)), (pb, grant(b, 2)));
                    model.insert(pa, 1);
                    model.insert(pb, 2);
                }
            }
            // Insert more than remove while the map is small, so it grows
            // past several chunks and shrinks again.
            0..=3 => {
                let pages = 1 + rng.below(100);
                let old = map.insert(page, grant(key, pages)).map(|g| g.pages);
                assert_eq!(old, model.insert(page, pages), "step {step}: insert {key}");
            }
            4..=6 => {
                let old = map.remove(&page).map(|g| g.pages);
                assert_eq!(old, model.remove(&page), "step {step}: remove {key}");
            }
            7 => {
                assert_eq!(map.get(&page).map(|g| g.pages), model.get(&page).copied(), "step {step}: get {key}");
                if let (Some(g), Some(p)) = (map.get_mut(&page), model.get_mut(&page)) {
                    g.pages += 1;
                    *p += 1;
                }
            }
            8 => {
                let (lo, hi) = (bound(&mut rng, keys), bound(&mut rng, keys));
                if valid(lo, hi) {
                    walk(&map, &model, lo, hi, &mut rng);
                }
            }
            _ => {
                let (lo, hi) = (bound(&mut rng, keys), bound(&mut rng, keys));
                if valid(lo, hi) {
                    // Change every grant in range through range_mut, from
                    // the back, as mprotect's neighbour walk does.
                    for (k, g) in map.range_mut((lo, hi)).rev() {
                        assert_eq!(*k, g.base);
                        g.pages += 2;
                    }
                    for (_, p) in model.range_mut((lo, hi)) {
                        *p += 2;
                    }
                }
            }
        }
        if step % check_every == 0 {
            map.check().unwrap_or_else(|e| panic!("step {step}: {e}"));
        }
        assert_eq!(map.len(), model.len(), "step {step}");
    }
    let all: Vec<(Page, u64)> = map.values().map(|g| (g.base, g.pages)).collect();
    assert_eq!(all, model.iter().map(|(k, p)| (*k, *p)).collect::<Vec<_>>());
    let copy = map.clone();
    copy.check().unwrap();
    let owned: Vec<(Page, u64)> = copy.into_iter().map(|(k, g)| (k, g.pages)).collect();
    assert_eq!(owned, all);
}

#[test]
fn grant_map_matches_a_btreemap() {
    // Few keys: chunks fill, split, empty and merge often; many keys: a
    // deeper index.
    for seed in 1..=20 {
        run(seed, 40, 3_000, 1);
        run(seed * 7919, 400, 6_000, 1);
    }
    run(12_345, 20_000, 60_000, 500);
}

#[test]
fn grant_map_fills_below_the_first_chunk() {
    // Descending insertions: each base is below every chunk key.
    let mut map = GrantMap::default();
    for base in (0..10 * CHUNK as u64).rev() {
        map.insert(Page::from_number(base), grant(base, 1));
        map.check().unwrap();
    }
    let bases: Vec<u64> = map.values().map(|g| g.base.number()).collect();
    assert_eq!(bases, (0..10 * CHUNK as u64).collect::<Vec<_>>());
    // And emptied from the front, then the back.
    for base in 0..5 * CHUNK as u64 {
        assert!(map.remove(&Page::from_number(base)).is_some());
        map.check().unwrap();
    }
    for base in (5 * CHUNK as u64..10 * CHUNK as u64).rev() {
        assert!(map.remove(&Page::from_number(base)).is_some());
        map.check().unwrap();
    }
    assert_eq!((map.len(), map.chunk_count()), (0, 0));
}

/// mprotect of one page between two alike neighbours removes two grants
/// (the join) and the next one adds them back (the split). At every place
/// in a map built in order, after one such toggle, further toggles change
/// no chunk: no split and merge in turn. (A `BTreeMap` of 11-entry nodes
/// merges and splits a minimum-filled leaf on every toggle.)
#[test]
fn toggling_never_splits_and_merges_chunks_in_turn() {
    const N: u64 = 40 * CHUNK as u64;
    // Maps of several shapes: built in order, in reverse, at random, and
    // thinned out at random (chunks of every fill).
    for shape in 0..6u64 {
        let mut rng = Rng::new(shape + 1);
        let mut map = GrantMap::default();
        let mut order: Vec<u64> = (0..N).collect();
        match shape {
            0 => {}
            1 => order.reverse(),
            _ => {
                for i in (1..order.len()).rev() {
                    order.swap(i, rng.below(i as u64 + 1) as usize);
                }
            }
        }
        for &base in &order {
            map.insert(Page::from_number(base), grant(base, 1));
        }
        if shape >= 3 {
            for base in 0..N {
                if rng.chance(15 * (shape - 2)) {
                    map.remove(&Page::from_number(base));
                }
            }
        }
        let bases: Vec<Page> = map.values().map(|g| g.base).collect();
        for pair in bases.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let toggle = |map: &mut GrantMap| {
                let removed = (map.remove(&a).unwrap(), map.remove(&b).unwrap());
                let after_join = map.chunk_count();
                map.insert(a, removed.0);
                map.insert(b, removed.1);
                map.check().unwrap();
                (after_join, map.chunk_count())
            };
            let first = toggle(&mut map);
            let second = toggle(&mut map);
            assert_eq!(
                second.0, second.1,
                "shape {shape} at {a:?}: chunks change on every toggle ({first:?}, {second:?})"
            );
        }
    }
}

/// A grant of `pages` at `base`, read-only or read-write by `kind`.
fn kind_grant(base: u64, pages: u64, kind: bool) -> Grant {
    Grant { prot: if kind { Prot::READ | Prot::WRITE } else { Prot::READ }, ..grant(base, pages) }
}

/// The model's grant holding page `page`, if any: (base, pages, kind).
fn holding(model: &BTreeMap<u64, (u64, bool)>, page: u64) -> Option<(u64, u64, bool)> {
    model.range(..=page).next_back().map(|(&b, &(n, k))| (b, n, k)).filter(|&(b, n, _)| page < b + n)
}

/// Random placements, cuts, insertions and removals of non-overlapping
/// grants, each checked against a model: what `place` absorbed or inserted
/// and whether the grant above is to be joined, what `cut` took out and
/// left, and the chunks' invariants after every step. With `keys` pages,
/// maps of one chunk and of dozens; placements and cuts land in chunks
/// that are full, at their minimum, or whose first grant is involved (the
/// cases that take the general path).
fn run_place_and_cut(seed: u64, keys: u64, steps: usize) {
    let mut rng = Rng::new(seed);
    let mut map = GrantMap::default();
    let mut model: BTreeMap<u64, (u64, bool)> = BTreeMap::new();
    let free = |model: &BTreeMap<u64, (u64, bool)>, b: u64, n: u64| {
        holding(model, b).is_none() && model.range(b..b + n).next().is_none()
    };
    for step in 0..steps {
        let (b, n, kind) = (rng.below(keys), 1 + rng.below(4), rng.chance(50));
        match rng.below(10) {
            0..=3 if free(&model, b, n) => {
                let end = b + n;
                let high = model.get(&end).copied();
                let low = model.range(..b).next_back().map(|(&lb, &(ln, lk))| (lb, ln, lk));
                let placed = map.place(kind_grant(b, n, kind));
                let want = match low {
                    Some((lb, ln, lk)) if lb + ln == b && lk == kind => {
                        model.insert(lb, (ln + n, lk));
                        Placed::Absorbed {
                            base: Page::from_number(lb),
                            joins_high: high.is_some_and(|(_, hk)| hk == lk),
                        }
                    }
                    _ => {
                        model.insert(b, (n, kind));
                        Placed::Inserted { joins_high: high.is_some_and(|(_, hk)| hk == kind) }
                    }
                };
                assert_eq!(placed, want, "step {step}: place {b}+{n}");
            }
            4..=6 => {
                // A range inside a grant (most of the time) or anywhere.
                let range = match holding(&model, b) {
                    Some((gb, gn, _)) if rng.chance(80) => {
                        let start = gb + rng.below(gn);
                        (start, start + 1 + rng.below(gb + gn - start))
                    }
                    _ => (b, b + rng.below(3)),
                };
                let page_range = PageRange::new(Page::from_number(range.0), Page::from_number(range.1));
                let got = map.cut(page_range);
                let inside = holding(&model, range.0).filter(|&(gb, gn, _)| range.1 <= gb + gn && range.0 < range.1);
                match (got, inside) {
                    (None, None) => {}
                    (Some(Cut { base, part, head, tail, guard_above }), Some((gb, gn, gk))) => {
                        assert_eq!(
                            (base.number(), part.base.number(), part.pages, head, tail, guard_above),
                            (gb, range.0, range.1 - range.0, gb < range.0, range.1 < gb + gn, false),
                            "step {step}: cut {range:?} of {gb}+{gn}"
                        );
                        model.remove(&gb);
                        if gb < range.0 {
                            model.insert(gb, (range.0 - gb, gk));
                        }
                        if range.1 < gb + gn {
                            model.insert(range.1, (gb + gn - range.1, gk));
                        }
                    }
                    (got, want) => panic!("step {step}: cut {range:?}: {got:?}, model {want:?}"),
                }
            }
            7 if free(&model, b, n) => {
                assert!(map.insert(Page::from_number(b), kind_grant(b, n, kind)).is_none());
                model.insert(b, (n, kind));
            }
            8 => {
                if let Some((gb, _, _)) = holding(&model, b) {
                    assert!(map.remove(&Page::from_number(gb)).is_some(), "step {step}: remove {gb}");
                    model.remove(&gb);
                }
            }
            _ => {}
        }
        map.check().unwrap_or_else(|e| panic!("step {step}: {e}"));
        let ours: Vec<(u64, u64, bool)> =
            map.values().map(|g| (g.base.number(), g.pages, g.prot.contains(Prot::WRITE))).collect();
        let theirs: Vec<(u64, u64, bool)> = model.iter().map(|(&b, &(n, k))| (b, n, k)).collect();
        assert_eq!(ours, theirs, "step {step}");
    }
}

#[test]
fn place_and_cut_match_a_model() {
    for seed in 1..=12 {
        run_place_and_cut(seed, 60, 3_000);
        run_place_and_cut(seed * 104_729, 1_500, 6_000);
    }
}
