//! A seeded randomized test: thousands of mmap / munmap / mprotect /
//! mremap / madvise / msync / fork / teardown / read / write / exec steps on
//! up to four spaces (parents and forked children) in a small window, each
//! checked against a simple per-page model, with allocation failures
//! injected now and then. After every step: every space's invariants, the
//! TLB model, all reference counts, the grant listing, mapped pages and the
//! content of every page. At the end, with every space torn down, no frame
//! is left.
//!
//! `TESSERA_MM_SEED` and `TESSERA_MM_STEPS` override the seed and the
//! number of steps.

use std::collections::BTreeMap;

use rmm::{PhysAddr, VirtAddr};

use super::harness::*;
use crate::page::Page;
use crate::{
    Access, Advice, FaultError, MapFlags, MapSource, MmError, MmapRequest, MsyncFlags, PhysKind, Prot, ProviderKind,
    RemapFlags,
};

/// The window: pages [FIRST, END) (min_addr is 64 KiB = page 16).
const FIRST: u64 = MIN_ADDR / PAGE;
const WINDOW: u64 = 160;
const END: u64 = FIRST + WINDOW;
const CAP: u64 = 120;
const PHYS_BASE: u64 = 0xF000_0000 / PAGE;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Private(u64),
    Shared { object: u64, index: u64 },
    Phys(u64),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct MPage {
    prot: Prot,
    kind: Kind,
    /// A guard marker (MADV_GUARD_INSTALL): not part of the grant's kind.
    guard: bool,
}

impl MPage {
    fn continues_into(&self, next: &MPage) -> bool {
        self.prot == next.prot
            && match (self.kind, next.kind) {
                (Kind::Private(_), Kind::Private(_)) => true,
                (Kind::Shared { object: a, index: i }, Kind::Shared { object: b, index: j }) => a == b && i + 1 == j,
                (Kind::Phys(p), Kind::Phys(q)) => p + 1 == q,
                _ => false,
            }
    }
    fn provider_kind(&self) -> ProviderKind {
        match self.kind {
            Kind::Private(_) => ProviderKind::Allocated,
            Kind::Shared { object, .. } => ProviderKind::AllocatedShared(object),
            Kind::Phys(_) => ProviderKind::PhysBorrowed,
        }
    }
}

#[derive(Clone, Default)]
struct MSpace {
    pages: BTreeMap<u64, MPage>,
}

/// (start page, end page, prot, kind of the first page).
type MGrant = (u64, u64, Prot, MPage);

impl MSpace {
    fn grants(&self) -> Vec<MGrant> {
        let mut grants: Vec<MGrant> = Vec::new();
        let mut last: Option<(u64, MPage)> = None;
        for (&page, mp) in &self.pages {
            match (grants.last_mut(), last) {
                (Some(g), Some((lp, lm))) if lp + 1 == page && lm.continues_into(mp) => g.1 = page + 1,
                _ => grants.push((page, page + 1, mp.prot, *mp)),
            }
            last = Some((page, *mp));
        }
        grants
    }
    fn grant_of(&self, page: u64) -> Option<MGrant> {
        self.grants().into_iter().find(|g| g.0 <= page && page < g.1)
    }
    fn covered(&self, start: u64, end: u64) -> bool {
        (start..end).all(|p| self.pages.contains_key(&p))
    }
    fn free(&self, start: u64, end: u64) -> bool {
        self.pages.range(start..end).next().is_none()
    }
    fn mapped_in(&self, start: u64, end: u64) -> u64 {
        self.pages.range(start..end).count() as u64
    }
    fn remove(&mut self, start: u64, end: u64) {
        let doomed: Vec<u64> = self.pages.range(start..end).map(|(p, _)| *p).collect();
        for page in doomed {
            self.pages.remove(&page);
        }
    }
    /// Best fit: the smallest free run of at least `pages`, lowest first.
    fn best_fit(&self, pages: u64) -> Option<u64> {
        let mut best: Option<(u64, u64)> = None;
        let mut run_start = FIRST;
        for page in FIRST..=END {
            if page == END || self.pages.contains_key(&page) {
                let len = page - run_start;
                if len >= pages && best.is_none_or(|(l, _)| len < l) {
                    best = Some((len, run_start));
                }
                run_start = page + 1;
            }
        }
        best.map(|(_, start)| start)
    }
}

#[derive(Default)]
struct Model {
    spaces: Vec<MSpace>,
    /// Object id → (size, tags of written pages).
    objects: BTreeMap<u64, (u64, BTreeMap<u64, u64>)>,
}

impl Model {
    fn tag_of(&self, mp: &MPage) -> Option<u64> {
        match mp.kind {
            Kind::Private(tag) => Some(tag),
            Kind::Shared { object, index } => {
                let (size, tags) = &self.objects[&object];
                (index < *size).then(|| tags.get(&index).copied().unwrap_or(0))
            }
            Kind::Phys(_) => None,
        }
    }
}

fn page_va(page: u64) -> VirtAddr {
    va(page * PAGE)
}

struct Run {
    w: World,
    spaces: Vec<Space>,
    model: Model,
    rng: Rng,
    next_tag: u64,
    step: u64,
    injected: u64,
    counts: BTreeMap<&'static str, u64>,
}

impl Run {
    fn verify(&mut self) {
        let refs: Vec<&Space> = self.spaces.iter().collect();
        self.w.check(&refs, &[]);
        for (i, (space, ms)) in self.spaces.iter().zip(&self.model.spaces).enumerate() {
            let step = self.step;
            let listing: Vec<(u64, u64, Prot, ProviderKind)> =
                space.grants().map(|g| (g.start.get() / PAGE, g.end.get() / PAGE, g.prot, g.kind)).collect();
            let expected: Vec<(u64, u64, Prot, ProviderKind)> =
                ms.grants().iter().map(|g| (g.0, g.1, g.2, g.3.provider_kind())).collect();
            assert_eq!(listing, expected, "step {step}: space {i}: grants differ from the model");
            assert_eq!(space.mapped_pages(), ms.pages.len() as u64, "step {step}: space {i}: mapped pages");
            for (&page, mp) in &ms.pages {
                let Some(expected) = self.model.tag_of(mp) else { continue };
                let seen = match page_frame(space, Page::from_number(page)) {
                    Some(frame) => self.w.frames.tag(frame),
                    None => match (&space.grant_containing(Page::from_number(page)).unwrap().provider, mp.kind) {
                        (crate::Provider::AllocatedShared { object, .. }, Kind::Shared { index, .. }) => {
                            object.page(index).map_or(0, |f| self.w.frames.tag(f))
                        }
                        _ => 0,
                    },
                };
                assert_eq!(seen, expected, "step {step}: space {i}: content of page {page:#x} ({mp:?})");
            }
        }
    }

    fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
    }

    /// Arms a failure a few allocations ahead (sometimes), returning whether
    /// it did, with a snapshot of everything.
    fn maybe_inject(&mut self) -> Option<Snapshot> {
        if !self.rng.chance(12) {
            return None;
        }
        let refs: Vec<&Space> = self.spaces.iter().collect();
        let snapshot = Snapshot::of(&refs, &[], &self.w.frames);
        let n = self.rng.below(4);
        self.w.plan.fail_in(n);
        Some(snapshot)
    }

    /// After an operation run with [`Self::maybe_inject`]: whether the
    /// injected failure hit (then everything must be as before).
    fn failed_as_injected(&mut self, armed: Option<Snapshot>, failures_before: u64, failed: bool) -> bool {
        self.w.plan.clear();
        let hit = self.w.plan.failures() > failures_before;
        let Some(before) = armed else {
            assert!(!hit);
            return false;
        };
        assert_eq!(hit, failed, "step {}: an injected failure and the result disagree", self.step);
        if hit {
            let refs: Vec<&Space> = self.spaces.iter().collect();
            assert_eq!(Snapshot::of(&refs, &[], &self.w.frames), before, "step {}: not rolled back", self.step);
            self.injected += 1;
        }
        hit
    }

    fn random_page(&mut self, space: usize) -> u64 {
        let ms = &self.model.spaces[space];
        if !ms.pages.is_empty() && self.rng.chance(75) {
            let k = self.rng.below(ms.pages.len() as u64) as usize;
            *ms.pages.keys().nth(k).unwrap()
        } else {
            FIRST + self.rng.below(WINDOW)
        }
    }

    fn random_prot(&mut self) -> Prot {
        match self.rng.below(20) {
            0..=6 => RW,
            7..=11 => Prot::READ,
            12..=14 => Prot::NONE,
            15..=16 => Prot::READ | Prot::EXEC,
            17..=18 => Prot::WRITE,
            _ => Prot::READ | Prot::WRITE | Prot::EXEC,
        }
    }

    fn mmap(&mut self, i: usize) {
        let pages = if self.rng.chance(10) { 1 + self.rng.below(20) } else { 1 + self.rng.below(6) };
        let prot = self.random_prot();
        let kind = self.rng.below(10);
        let phys_page = PHYS_BASE + self.rng.below(64);
        let (mut flags, source) = match kind {
            0..=6 => (MapFlags::PRIVATE, MapSource::Anonymous),
            7..=8 => (MapFlags::SHARED, MapSource::Anonymous),
            _ => (
                MapFlags::SHARED,
                MapSource::Physical { phys: PhysAddr::new(phys_page * PAGE), kind: PhysKind::Uncached },
            ),
        };
        let placement = self.rng.below(20);
        let at = if self.rng.chance(5) { FIRST + WINDOW - 2 + self.rng.below(4) } else { self.random_page(i) };
        let addr = match placement {
            0..=7 => 0,
            8..=11 => at,
            12..=16 => {
                flags |= MapFlags::FIXED;
                at
            }
            _ => {
                flags |= MapFlags::FIXED_NOREPLACE;
                at
            }
        };
        if self.rng.chance(30) {
            flags |= MapFlags::POPULATE;
        }
        let ms = &self.model.spaces[i];
        let exact = flags.intersects(MapFlags::FIXED | MapFlags::FIXED_NOREPLACE);
        let predicted: Result<u64, MmError> = if prot.contains(Prot::WRITE | Prot::EXEC) {
            Err(MmError::Access)
        } else if exact && addr + pages > END {
            Err(MmError::NoMem)
        } else if exact && addr < FIRST {
            Err(MmError::Perm)
        } else if flags.contains(MapFlags::FIXED_NOREPLACE) && !ms.free(addr, addr + pages) {
            Err(MmError::Exist)
        } else {
            let hint_free = addr != 0 && addr + pages <= END && ms.free(addr, addr + pages);
            let start = if exact || hint_free { Some(addr) } else { ms.best_fit(pages) };
            match start {
                None => Err(MmError::NoMem),
                Some(start) => {
                    let replaced = if exact { ms.mapped_in(start, start + pages) } else { 0 };
                    if ms.pages.len() as u64 - replaced + pages > CAP { Err(MmError::NoMem) } else { Ok(start) }
                }
            }
        };
        let request = MmapRequest { addr: page_va(addr), len_bytes: pages * PAGE, prot, flags, source };
        let armed = if predicted.is_ok() { self.maybe_inject() } else { None };
        let failures = self.w.plan.failures();
        let result = self.w.mmap(&mut self.spaces[i], &request);
        if self.failed_as_injected(armed, failures, result == Err(MmError::NoMem)) {
            return;
        }
        let step = self.step;
        let at = page_va(addr);
        assert_eq!(result.map(|a| a.get() / PAGE), predicted, "step {step}: mmap {at:?} {pages} {prot:?} {flags:?}");
        let Ok(start) = predicted else { return };
        self.count("mmap ok");
        let new_kind = |k: u64| match kind {
            0..=6 => Kind::Private(0),
            7..=8 => Kind::Shared { object: 0, index: k },
            _ => Kind::Phys(phys_page + k),
        };
        let object = match self.spaces[i].grant_at(page_va(start)).unwrap().kind {
            ProviderKind::AllocatedShared(id) => {
                if (7..=8).contains(&kind) {
                    self.model.objects.insert(id, (pages, BTreeMap::new()));
                }
                id
            }
            _ => 0,
        };
        let ms = &mut self.model.spaces[i];
        ms.remove(start, start + pages);
        for k in 0..pages {
            let kind = match new_kind(k) {
                Kind::Shared { index, .. } => Kind::Shared { object, index },
                other => other,
            };
            ms.pages.insert(start + k, MPage { prot, kind, guard: false });
        }
    }

    fn random_range(&mut self, i: usize) -> (u64, u64) {
        let start = self.random_page(i);
        let len = if self.rng.chance(10) { 1 + self.rng.below(30) } else { 1 + self.rng.below(6) };
        (start, len)
    }

    fn munmap(&mut self, i: usize) {
        let (start, len) = self.random_range(i);
        let predicted = if start + len > END { Err(MmError::Inval) } else { Ok(()) };
        let result = self.w.munmap(&mut self.spaces[i], page_va(start), len * PAGE);
        assert_eq!(result, predicted, "step {}: munmap", self.step);
        if result.is_ok() {
            self.count("munmap ok");
            self.model.spaces[i].remove(start, start + len);
        }
    }

    fn mprotect(&mut self, i: usize) {
        let (start, len) = self.random_range(i);
        let prot = self.random_prot();
        let ms = &self.model.spaces[i];
        let predicted = if prot.contains(Prot::WRITE | Prot::EXEC) {
            Err(MmError::Access)
        } else if !ms.covered(start, start + len) {
            Err(MmError::NoMem)
        } else {
            Ok(())
        };
        let result = self.w.mprotect(&mut self.spaces[i], page_va(start), len * PAGE, prot);
        assert_eq!(result, predicted, "step {}: mprotect", self.step);
        if result.is_ok() {
            self.count("mprotect ok");
            for page in start..start + len {
                self.model.spaces[i].pages.get_mut(&page).unwrap().prot = prot;
            }
        }
    }

    fn madvise(&mut self, i: usize) {
        let (start, len) = self.random_range(i);
        let advice = match self.rng.below(10) {
            0..=6 => Advice::DontNeed,
            7 => Advice::WillNeed,
            8 => Advice::GuardInstall,
            _ => Advice::GuardRemove,
        };
        let ms = &self.model.spaces[i];
        let phys = ms.pages.range(start..start + len).any(|(_, mp)| matches!(mp.kind, Kind::Phys(_)));
        let predicted = if !ms.covered(start, start + len) {
            Err(MmError::NoMem)
        } else if matches!(advice, Advice::DontNeed | Advice::GuardInstall) && phys {
            Err(MmError::Inval)
        } else {
            Ok(())
        };
        let result = self.w.madvise(&mut self.spaces[i], page_va(start), len * PAGE, advice);
        assert_eq!(result, predicted, "step {}: madvise {advice:?}", self.step);
        if result.is_ok() && matches!(advice, Advice::DontNeed | Advice::GuardInstall | Advice::GuardRemove) {
            self.count(match advice {
                Advice::DontNeed => "dontneed ok",
                Advice::GuardInstall => "guard install ok",
                _ => "guard remove ok",
            });
            for (_, mp) in self.model.spaces[i].pages.range_mut(start..start + len) {
                if let (Kind::Private(tag), Advice::DontNeed | Advice::GuardInstall) = (&mut mp.kind, advice) {
                    *tag = 0;
                }
                match advice {
                    Advice::GuardInstall => mp.guard = true,
                    Advice::GuardRemove => mp.guard = false,
                    _ => {}
                }
            }
        }
        // msync rides along: same coverage rule, nothing changes.
        let predicted = if ms_covered(&self.model.spaces[i], start, len) { Ok(()) } else { Err(MmError::NoMem) };
        assert_eq!(self.spaces[i].msync(page_va(start), len * PAGE, MsyncFlags::SYNC), predicted);
    }

    fn mremap(&mut self, i: usize) {
        let old = self.random_page(i);
        let old_len = if self.rng.chance(5) { 0 } else { 1 + self.rng.below(6) };
        let mut new_len = 1 + self.rng.below(8);
        let choice = self.rng.below(20);
        let target = FIRST + self.rng.below(WINDOW - 2);
        let flags = match choice {
            0..=4 => RemapFlags::empty(),
            5..=12 => RemapFlags::MAYMOVE,
            13..=16 => RemapFlags::MAYMOVE | RemapFlags::FIXED,
            _ => {
                new_len = old_len.max(1);
                RemapFlags::MAYMOVE | RemapFlags::DONTUNMAP
            }
        };
        let (fixed, may_move, dont_unmap) = (
            flags.contains(RemapFlags::FIXED),
            flags.contains(RemapFlags::MAYMOVE),
            flags.contains(RemapFlags::DONTUNMAP),
        );
        if dont_unmap && old_len == 0 {
            return;
        }
        let ms = self.model.spaces[i].clone();
        let mapped = ms.pages.len() as u64;
        // Prediction, in the order the implementation checks.
        let predicted: Result<(u64, MSpace), MmError> = (|| {
            if fixed && !(FIRST <= target && target + new_len <= END) {
                return Err(MmError::Inval);
            }
            if fixed && target < old + old_len.max(1) && old < target + new_len {
                return Err(MmError::Inval);
            }
            let grant = ms.grant_of(old).ok_or(MmError::Fault)?;
            if old + old_len > grant.1 {
                return Err(MmError::Fault);
            }
            let first = ms.pages[&old];
            if old_len == 0 {
                let Kind::Shared { object, index } = first.kind else { return Err(MmError::Inval) };
                if !may_move {
                    return Err(MmError::Inval);
                }
                let start = if fixed { target } else { ms.best_fit(new_len).ok_or(MmError::NoMem)? };
                let replaced = if fixed { ms.mapped_in(start, start + new_len) } else { 0 };
                if mapped - replaced + new_len > CAP {
                    return Err(MmError::NoMem);
                }
                let mut after = ms.clone();
                after.remove(start, start + new_len);
                for k in 0..new_len {
                    let kind = Kind::Shared { object, index: index + k };
                    after.pages.insert(start + k, MPage { prot: first.prot, kind, guard: false });
                }
                return Ok((start, after));
            }
            let phys = matches!(first.kind, Kind::Phys(_));
            if phys && new_len > old_len {
                return Err(MmError::Fault);
            }
            if phys && dont_unmap {
                return Err(MmError::Inval);
            }
            let extension = |after: &mut MSpace, from: u64, last: MPage, count: u64| {
                for k in 0..count {
                    let kind = match last.kind {
                        Kind::Private(_) => Kind::Private(0),
                        Kind::Shared { object, index } => Kind::Shared { object, index: index + 1 + k },
                        Kind::Phys(_) => unreachable!(),
                    };
                    after.pages.insert(from + k, MPage { prot: last.prot, kind, guard: false });
                }
            };
            if !fixed && !dont_unmap {
                if new_len <= old_len {
                    let mut after = ms.clone();
                    after.remove(old + new_len, old + old_len);
                    return Ok((old, after));
                }
                let in_place =
                    old + old_len == grant.1 && old + new_len <= END && ms.free(old + old_len, old + new_len);
                if in_place {
                    if mapped + new_len - old_len > CAP {
                        return Err(MmError::NoMem);
                    }
                    let mut after = ms.clone();
                    let last = ms.pages[&(old + old_len - 1)];
                    extension(&mut after, old + old_len, last, new_len - old_len);
                    return Ok((old, after));
                }
                if !may_move {
                    return Err(MmError::NoMem);
                }
            }
            let start = if fixed { target } else { ms.best_fit(new_len).ok_or(MmError::NoMem)? };
            let replaced = if fixed { ms.mapped_in(start, start + new_len) } else { 0 };
            let kept = if dont_unmap { old_len } else { 0 };
            if mapped + new_len + kept > CAP + old_len + replaced {
                return Err(MmError::NoMem);
            }
            let moved = old_len.min(new_len);
            let mut after = ms.clone();
            after.remove(start, start + new_len);
            after.remove(old, old + old_len);
            for k in 0..moved {
                after.pages.insert(start + k, ms.pages[&(old + k)]);
            }
            extension(&mut after, start + moved, ms.pages[&(old + moved - 1)], new_len - moved);
            if dont_unmap {
                for k in 0..old_len {
                    let mut mp = ms.pages[&(old + k)];
                    if let Kind::Private(tag) = &mut mp.kind {
                        *tag = 0;
                    }
                    // The markers moved with the pages.
                    mp.guard = false;
                    after.pages.insert(old + k, mp);
                }
            }
            Ok((start, after))
        })();
        let armed = if predicted.is_ok() { self.maybe_inject() } else { None };
        let failures = self.w.plan.failures();
        let result =
            self.w.mremap(&mut self.spaces[i], page_va(old), old_len * PAGE, new_len * PAGE, flags, page_va(target));
        if self.failed_as_injected(armed, failures, result == Err(MmError::NoMem)) {
            return;
        }
        let step = self.step;
        match predicted {
            Ok((start, after)) => {
                assert_eq!(result, Ok(page_va(start)), "step {step}: mremap {old:#x} {old_len} {new_len} {flags:?}");
                self.count("mremap ok");
                self.model.spaces[i] = after;
            }
            Err(error) => {
                assert_eq!(result, Err(error), "step {step}: mremap {old:#x} {old_len} {new_len} {flags:?} {target:#x}")
            }
        }
    }

    fn touch(&mut self, i: usize, access: Access) {
        let page = self.random_page(i);
        let mp = self.model.spaces[i].pages.get(&page).copied();
        let predicted: Result<(), FaultError> = match mp {
            None => Err(FaultError::Segv),
            Some(mp) if !access.allowed_by(mp.prot) || mp.guard => Err(FaultError::Segv),
            Some(mp) if matches!(mp.kind, Kind::Shared { .. }) && self.model.tag_of(&mp).is_none() => {
                Err(FaultError::Bus)
            }
            Some(_) => Ok(()),
        };
        let armed = if predicted.is_ok() { self.maybe_inject() } else { None };
        let failures = self.w.plan.failures();
        let result = self.w.access(&mut self.spaces[i], page_va(page), access);
        if self.failed_as_injected(armed, failures, result == Err(FaultError::OutOfMemory)) {
            return;
        }
        let step = self.step;
        assert_eq!(result.map(drop), predicted, "step {step}: {access:?} of page {page:#x} ({mp:?})");
        let (Ok(frame), Some(mp)) = (result, mp) else { return };
        self.count("access ok");
        if let Kind::Phys(p) = mp.kind {
            assert_eq!(frame, PhysAddr::new(p * PAGE), "step {step}: device page");
            return;
        }
        assert_eq!(Some(self.w.frames.tag(frame)), self.model.tag_of(&mp), "step {step}: {access:?} saw wrong data");
        if access == Access::Write {
            self.next_tag += 1;
            let tag = self.next_tag;
            self.w.frames.write(frame, tag);
            match mp.kind {
                Kind::Private(_) => self.model.spaces[i].pages.get_mut(&page).unwrap().kind = Kind::Private(tag),
                Kind::Shared { object, index } => {
                    self.model.objects.get_mut(&object).unwrap().1.insert(index, tag);
                }
                Kind::Phys(_) => unreachable!(),
            }
        }
    }

    fn fork(&mut self, i: usize) {
        if self.spaces.len() >= 4 {
            return;
        }
        let armed = self.maybe_inject();
        let failures = self.w.plan.failures();
        let result = self.w.fork(&mut self.spaces[i]);
        if self.failed_as_injected(armed, failures, result.is_err()) {
            return;
        }
        self.count("fork ok");
        self.spaces.push(result.expect("fork"));
        let child = self.model.spaces[i].clone();
        self.model.spaces.push(child);
    }

    fn teardown(&mut self, i: usize) {
        if self.spaces.len() <= 1 {
            return;
        }
        self.count("teardown");
        let space = self.spaces.swap_remove(i);
        self.model.spaces.swap_remove(i);
        self.w.teardown(space);
    }
}

fn ms_covered(ms: &MSpace, start: u64, len: u64) -> bool {
    ms.covered(start, start + len)
}

fn run(seed: u64, steps: u64) -> Run {
    let w = World::new();
    let mut config = World::config();
    config.user_end = page_va(END);
    // The model checks contents, not which pages are resident: write-around on.
    config.write_around = true;
    config.max_mapped_pages = Some(CAP);
    let space = w.space_with(config);
    let mut run = Run {
        w,
        spaces: vec![space],
        model: Model { spaces: vec![MSpace::default()], objects: BTreeMap::new() },
        rng: Rng::new(seed),
        next_tag: 0,
        step: 0,
        injected: 0,
        counts: BTreeMap::new(),
    };
    for step in 0..steps {
        run.step = step;
        let i = run.rng.below(run.spaces.len() as u64) as usize;
        match run.rng.below(100) {
            0..=17 => run.mmap(i),
            18..=27 => run.munmap(i),
            28..=37 => run.mprotect(i),
            38..=47 => run.mremap(i),
            48..=53 => run.madvise(i),
            54..=56 => run.fork(i),
            57..=58 => run.teardown(i),
            59..=74 => run.touch(i, Access::Read),
            75..=94 => run.touch(i, Access::Write),
            _ => run.touch(i, Access::Exec),
        }
        run.verify();
    }
    run
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn random_operations_match_the_model() {
    let seed = env("TESSERA_MM_SEED", 0x07E5_5E7A);
    let steps = env("TESSERA_MM_STEPS", 10_000);
    let mut run = run(seed, steps);
    let counts = std::mem::take(&mut run.counts);
    let injected = run.injected;
    for space in std::mem::take(&mut run.spaces) {
        run.w.teardown(space);
    }
    assert_eq!(run.w.frames.live(), 0, "frames left after every space was torn down");
    // The run must have exercised every kind of step.
    let kinds = [
        "mmap ok",
        "munmap ok",
        "mprotect ok",
        "mremap ok",
        "dontneed ok",
        "guard install ok",
        "guard remove ok",
        "fork ok",
        "teardown",
        "access ok",
    ];
    for what in kinds {
        assert!(counts.get(what).copied().unwrap_or(0) > 20, "seed {seed:#x}: too few '{what}': {counts:?}");
    }
    assert!(injected > 20, "too few injected failures hit: {injected}");
    std::println!("seed {seed:#x}, {steps} steps, {injected} injected failures rolled back: {counts:?}");
}
