//! The fuzzer's state and its memory calls: mmap of each kind, munmap,
//! mprotect, mremap, madvise, msync, stores and loads, and `write()` /
//! `read()` of the ramfs files; each predicted from the model, made, and
//! compared, then the pages it touched checked.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use tessera_guest_tests::errno_name;
use tessera_guest_tests::mm::{read_word, write_word};
use tessera_guest_tests::rng::Rng;
use tessera_runtime::abi::error::ENOMEM;
use tessera_runtime::abi::flag::SEEK_SET;
use tessera_runtime::mm::{
    self, ANONYMOUS_FD, MADV_DONTNEED, MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MAP_FIXED,
    MAP_FIXED_NOREPLACE, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE,
    MS_ASYNC, MS_INVALIDATE, MS_SYNC, MapFlags,
};
use tessera_runtime::{Result, sys};

use crate::model::{ARENA, Access, Backing, MPage, Model, ObjKind, R, W, X, prot_name, words};

/// The page size.
pub const PAGE: usize = mm::PAGE_SIZE;
/// Operations the log keeps for a failure report.
const LOG_OPS: usize = 40;
/// `MAP_LAZY` (Redox's): a file mapping fetches pages on first touch.
pub const MAP_LAZY: MapFlags = MapFlags::from_bits_retain(0x10);

/// A ramfs file the fuzzer maps.
#[derive(Clone, Copy)]
pub struct FileObj {
    /// Open read-write.
    pub fd: usize,
    /// Open read-only.
    pub ro_fd: usize,
    /// Its object in the model.
    pub obj: u32,
}

/// The `memory:shared` object.
#[derive(Clone, Copy)]
pub struct MemObj {
    pub fd: usize,
    pub obj: u32,
}

/// The whole fuzzer.
pub struct Fuzzer {
    pub rng: Rng,
    pub m: Model,
    /// Address of arena page 0.
    pub base: usize,
    pub seed: u64,
    /// The operation being made.
    pub op: u64,
    pub files: Vec<FileObj>,
    pub memobj: MemObj,
    /// The last operations, for the failure report.
    pub log: VecDeque<String>,
    /// The first disagreement with the model.
    pub failure: Option<String>,
    /// How many of each operation kind ran (see `main::OPS`).
    pub counts: [u64; 16],
    /// `sys:inject` (open for writing), if it opened.
    pub inject_fd: Option<usize>,
    /// An allocation failure is armed for the next call.
    armed: bool,
    /// Calls that failed with ENOMEM because of an armed failure.
    pub injected_failures: u64,
    /// A forked child waiting to check its pages: pid, the pipe end that
    /// releases it, the operation at which it is released.
    pub held: Option<(usize, usize, u64)>,
    /// How many calls of each kind succeeded.
    pub succeeded: [u64; 16],
    /// The kind of the operation being made (an index of `main::OPS`).
    pub kind: usize,
    tag: u64,
}

/// How a memory call must come out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Want {
    /// At this arena page. (Calls that return 0 are compared as returning
    /// the arena's base, so `At(0)` means "success" for them.)
    At(usize),
    /// Anywhere free: in the arena where the model has nothing, or outside.
    Anywhere,
    /// This errno.
    Err(i32),
}

/// A result for messages.
pub struct Got(pub Result<usize>);

impl fmt::Display for Got {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Ok(v) => write!(f, "Ok({v:#x})"),
            Err(e) => write!(f, "Err({})", errno_name(e.errno)),
        }
    }
}

/// `prot` bits as the kernel's flags.
pub fn prot_flags(prot: u8) -> MapFlags {
    let mut flags = MapFlags::PROT_NONE;
    flags.set(MapFlags::PROT_READ, prot & R != 0);
    flags.set(MapFlags::PROT_WRITE, prot & W != 0);
    flags.set(MapFlags::PROT_EXEC, prot & X != 0);
    flags
}

impl Fuzzer {
    pub fn new(seed: u64, base: usize, files: Vec<FileObj>, memobj: MemObj, m: Model) -> Self {
        Self {
            rng: Rng::new(seed),
            m,
            base,
            seed,
            op: 0,
            files,
            memobj,
            log: VecDeque::with_capacity(LOG_OPS + 1),
            failure: None,
            counts: [0; 16],
            inject_fd: None,
            armed: false,
            injected_failures: 0,
            held: None,
            succeeded: [0; 16],
            kind: 0,
            tag: 0,
        }
    }

    /// Records the operation about to be made.
    pub fn note(&mut self, what: fmt::Arguments<'_>) {
        if self.log.len() == LOG_OPS {
            self.log.pop_front();
        }
        self.log.push_back(format!("#{} {what}", self.op));
    }

    /// Records a disagreement (the first one is reported).
    pub fn fail(&mut self, what: fmt::Arguments<'_>) {
        if self.failure.is_none() {
            self.failure = Some(format!("{what}"));
        }
    }

    /// A fresh non-zero value to store.
    pub fn tag(&mut self) -> u64 {
        self.tag += 1;
        let mut z = self.seed.wrapping_add(self.tag.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) | 1
    }

    /// Address of arena page `p`.
    pub fn addr(&self, p: usize) -> usize {
        self.base + p * PAGE
    }

    /// The arena page holding `addr`, if it is in the arena.
    pub fn page_of(&self, addr: usize) -> Option<usize> {
        (addr >= self.base && addr < self.base + ARENA * PAGE).then(|| (addr - self.base) / PAGE)
    }

    /// A range `[s, s + n)` in the arena: mostly a few pages.
    pub fn range(&mut self) -> (usize, usize) {
        let n = if self.rng.chance(1, 8) { self.rng.between(1, 24) } else { self.rng.between(1, 6) };
        (self.rng.below(ARENA - n + 1), n)
    }

    /// A range that is all mapped (mostly: else any [`Fuzzer::range`]):
    /// inside the run of mapped pages around a random mapped page, or, with
    /// `grant`, inside that page's kernel grant.
    pub fn mapped_range(&mut self, grant: bool) -> (usize, usize) {
        let p = self.rng.below(ARENA);
        let run = if grant {
            self.m.grant_of(p)
        } else {
            self.m.pages[p].map(|_| {
                let start = (0..p).rev().take_while(|&q| self.m.pages[q].is_some()).last().unwrap_or(p);
                let end = (p..ARENA).take_while(|&q| self.m.pages[q].is_some()).last().map_or(p + 1, |q| q + 1);
                (start, end)
            })
        };
        match run {
            Some((start, end)) if self.rng.chance(3, 4) => {
                let s = self.rng.between(start, p);
                (s, self.rng.between(1, (end - s).min(24)))
            }
            _ => self.range(),
        }
    }

    /// A protection: mostly read-write (never write-only or W|X).
    pub fn prot(&mut self) -> u8 {
        match self.rng.below(20) {
            0..=1 => 0,
            2..=6 => R,
            7..=16 => R | W,
            _ => R | X,
        }
    }

    /// Stores `v` in page `p` (the model says it is writable).
    pub fn store(&mut self, p: usize, v: u64) {
        let (first, last) = words(v);
        write_word(self.addr(p), first);
        write_word(self.addr(p) + PAGE - 8, last);
        self.m.write(p, v);
    }

    /// Checks that page `p` holds what the model says, if it is readable.
    pub fn check_page(&mut self, p: usize) {
        let Access::Value(v) = self.m.access(p, false) else { return };
        let (first, last) = words(v);
        let (got_first, got_last) = (read_word(self.addr(p)), read_word(self.addr(p) + PAGE - 8));
        if (got_first, got_last) != (first, last) {
            let page = self.m.pages[p];
            // Other arena pages backed by the same object page, as they read.
            let twins: Vec<(usize, u64)> = (0..ARENA)
                .filter(|&q| q != p && self.m.readable_twin(p, q))
                .map(|q| (q, read_word(self.addr(q))))
                .collect();
            self.fail(format_args!(
                "page {p} ({:#x}, {page:?}) holds {got_first:#x}/{got_last:#x}, the model says {first:#x}/{last:#x} \
                 (the same page elsewhere: {twins:x?})",
                self.addr(p)
            ));
        }
    }

    /// Checks pages `[s, e)` (clamped to the arena) and one on each side;
    /// with `sample`, only about half of them (leaving some lazy).
    pub fn check_around(&mut self, s: usize, e: usize, sample: bool) {
        let (from, to) = (s.saturating_sub(1), (e + 1).min(ARENA));
        for p in from..to {
            if !sample || self.rng.chance(1, 2) {
                self.check_page(p);
            }
        }
    }

    /// Compares a call's result with the prediction; true if it matched.
    fn agree(&mut self, what: &str, want: Want, got: Result<usize>) -> bool {
        let ok = match (want, got) {
            (Want::At(p), Ok(addr)) => addr == self.addr(p),
            (Want::Anywhere, Ok(_)) => true,
            (Want::Err(errno), Err(e)) => e.errno == errno,
            _ => false,
        };
        let injected = self.disarm();
        if !ok && injected && want != Want::Err(ENOMEM) && matches!(got, Err(e) if e.errno == ENOMEM) {
            // The frame allocation made to fail: the call must have changed
            // nothing (the caller checks the pages; the next full check
            // `sys:maps` and the pins).
            self.injected_failures += 1;
            return false;
        }
        if !ok {
            self.fail(format_args!("{what}: the model says {want:?}, the kernel gave {}", Got(got)));
        }
        if got.is_ok() {
            self.succeeded[self.kind] += 1;
        }
        ok
    }

    /// Makes the process's `n`-th next user-memory frame allocation fail
    /// (`sys:inject`), for the next call only: [`Fuzzer::agree`] disarms
    /// it. Nothing between arming and disarming may touch memory for the
    /// first time, or that fault would take the failure (and the process
    /// would die): only the call and the code around it run, on stack pages
    /// written before.
    pub fn arm(&mut self, n: usize) {
        let command = [b"frame 0", b"frame 1", b"frame 2", b"frame 3"][n.min(3)];
        if let Some(fd) = self.inject_fd
            && sys::write(fd, command).is_ok()
        {
            self.armed = true;
        }
    }

    /// Clears an armed injection; whether one was armed.
    fn disarm(&mut self) -> bool {
        if let (true, Some(fd)) = (self.armed, self.inject_fd) {
            let _ = sys::write(fd, b"off");
        }
        core::mem::take(&mut self.armed)
    }

    /// Whether to make the next call's allocation fail: 1 in 8 calls,
    /// once the run's stack has been used (op 1000 on), and not while a
    /// held child shares this process's stack copy-on-write (a store to a
    /// stack page would then take a frame, and could take the failure).
    fn inject_now(&mut self) -> bool {
        self.inject_fd.is_some() && self.op >= 1000 && self.held.is_none() && self.rng.chance(1, 8)
    }

    /// Puts `pages` where a placed call (hint, MAYMOVE) put them: at
    /// `addr` in the arena, where the model must have nothing, or outside
    /// it, where they are checked against the model and unmapped again.
    fn adopt(&mut self, what: &str, addr: usize, pages: &[MPage]) {
        let n = pages.len();
        if let Some(p) = self.page_of(addr) {
            if !addr.is_multiple_of(PAGE) || !self.m.free(p, p + n) {
                return self.fail(format_args!("{what}: placed at {addr:#x} over mapped pages of the arena"));
            }
            for (k, page) in pages.iter().enumerate() {
                self.m.pages[p + k] = Some(*page);
            }
            return;
        }
        let (lo, hi) = (self.base - PAGE, self.base + (ARENA + 1) * PAGE);
        if addr < hi && addr + n * PAGE > lo {
            return self.fail(format_args!("{what}: placed at {addr:#x}, over the arena's guard pages"));
        }
        for (k, page) in pages.iter().enumerate() {
            if let Access::Value(v) = self.m.content(page)
                && page.prot & R != 0
            {
                let at = addr + k * PAGE;
                let got = (read_word(at), read_word(at + PAGE - 8));
                if got != words(v) {
                    return self.fail(format_args!("{what}: page {k} placed at {at:#x} holds {got:x?}, not {v:#x}"));
                }
            }
        }
        // SAFETY: pages this call just placed outside the arena, holding no
        // Rust object.
        if let Err(e) = unsafe { mm::munmap(addr, n * PAGE) } {
            self.fail(format_args!("{what}: munmap of the pages placed outside the arena: {}", errno_name(e.errno)));
        }
    }

    // ---- mmap --------------------------------------------------------------

    /// mmap of a random kind at a random place of the arena.
    pub fn mmap(&mut self) {
        let (s, n) = self.range();
        let prot = self.prot();
        let kind = self.rng.below(100);
        let placement = self.rng.below(20);
        let inject = self.inject_now();
        let populate = inject || self.rng.chance(1, 5);
        let lazy = self.rng.chance(1, 3);
        let mut flags = match placement {
            0..=13 => MAP_FIXED,
            14..=16 => MAP_FIXED_NOREPLACE,
            _ => MapFlags::empty(),
        };
        if populate {
            flags |= MAP_POPULATE;
        }
        let file = self.rng.below(self.files.len());
        let (fd, offset_pages, template, name) = match kind {
            0..=39 => (ANONYMOUS_FD, 0, Backing::Anon(0), "anon-private"),
            40..=54 => (ANONYMOUS_FD, 0, Backing::Object { obj: 0, idx: 0 }, "anon-shared"),
            55..=69 => {
                let size = self.m.objects[&self.memobj.obj].tags.len();
                let off = self.rng.below(size + 2);
                (self.memobj.fd, off, Backing::Object { obj: self.memobj.obj, idx: off }, "memory-object")
            }
            _ => {
                let f = self.files[file];
                let size = self.m.objects[&f.obj].tags.len();
                let off = self.rng.below(size);
                let shared = kind < 85;
                // A read-only open serves mappings that cannot write the file.
                let ro = (!shared || prot & W == 0) && self.rng.chance(1, 3);
                let backing = Backing::File { obj: f.obj, lease: 0, idx: off, shared, own: None, writable_fd: !ro };
                (if ro { f.ro_fd } else { f.fd }, off, backing, if shared { "file-shared" } else { "file-private" })
            }
        };
        flags |= if matches!(template, Backing::Anon(_)) || matches!(template, Backing::File { shared: false, .. }) {
            MAP_PRIVATE
        } else {
            MAP_SHARED
        };
        if lazy && matches!(template, Backing::File { .. }) {
            flags |= MAP_LAZY;
        }
        let want = if flags.contains(MAP_FIXED_NOREPLACE) && !self.m.free(s, s + n) {
            Want::Err(tessera_runtime::abi::error::EEXIST)
        } else if flags.contains(MAP_FIXED) || self.m.free(s, s + n) {
            Want::At(s)
        } else {
            Want::Anywhere
        };
        self.note(format_args!(
            "mmap {name} p={s} n={n} {} off={offset_pages} flags={:#x}{}",
            prot_name(prot),
            flags.bits(),
            if fd == ANONYMOUS_FD { "" } else { " (fd)" }
        ));
        if inject {
            let k = self.rng.below(n + 1);
            self.arm(k);
        }
        // SAFETY: the range is in the arena (or, without a fixed flag, wherever
        // the kernel finds room): no Rust object lives there.
        let got = unsafe { mm::mmap(self.addr(s), n * PAGE, prot_flags(prot), flags, fd, offset_pages * PAGE) };
        if !self.agree("mmap", want, got) {
            return self.check_around(s, s + n, false);
        }
        let Ok(addr) = got else { return };
        let backing = match template {
            Backing::Object { obj: 0, .. } => {
                Backing::Object { obj: self.m.new_object(ObjKind::AnonShared, n), idx: 0 }
            }
            Backing::File { obj, idx, shared, own, writable_fd, .. } => {
                Backing::File { obj, lease: self.m.new_lease(), idx, shared, own, writable_fd }
            }
            other => other,
        };
        let pages: Vec<MPage> = (0..n).map(|k| MPage { prot, backing: advance(backing, k) }).collect();
        if let Want::At(p) = want {
            for (k, page) in pages.into_iter().enumerate() {
                self.m.pages[p + k] = Some(page);
            }
            self.check_around(s, s + n, true);
        } else {
            self.adopt("mmap", addr, &pages);
        }
    }

    // ---- munmap / mprotect ----------------------------------------------------

    /// munmap of a range of the arena (mapped or not).
    pub fn munmap(&mut self) {
        let (s, n) = self.range();
        self.note(format_args!("munmap p={s} n={n}"));
        // SAFETY: arena pages only.
        let got = unsafe { mm::munmap(self.addr(s), n * PAGE) }.map(|()| self.base);
        if self.agree("munmap", Want::At(0), got) {
            self.m.pages[s..s + n].fill(None);
            self.check_around(s, s + n, false);
        }
    }

    /// mprotect of a range: ENOMEM with a hole, EACCES making a shared
    /// mapping of a read-only open writable.
    pub fn mprotect(&mut self) {
        let (s, n) = self.mapped_range(false);
        let prot = self.prot();
        let want = self.mprotect_want(s, n, prot);
        self.note(format_args!("mprotect p={s} n={n} {}", prot_name(prot)));
        // SAFETY: arena pages only.
        let got = unsafe { mm::mprotect(self.addr(s), n * PAGE, prot_flags(prot)) }.map(|()| self.base);
        if self.agree("mprotect", want, got) && want == Want::At(0) {
            self.apply_mprotect(s, n, prot);
        }
        self.check_around(s, s + n, false);
    }

    /// The prediction for mprotect of `[s, s + n)` to `prot`.
    pub fn mprotect_want(&self, s: usize, n: usize, prot: u8) -> Want {
        if !self.m.covered(s, s + n) {
            return Want::Err(ENOMEM);
        }
        let refused = self.m.pages[s..s + n]
            .iter()
            .flatten()
            .any(|p| matches!(p.backing, Backing::File { shared: true, writable_fd: false, .. }) && prot & W != 0);
        if refused { Want::Err(tessera_runtime::abi::error::EACCES) } else { Want::At(0) }
    }

    /// The model after a successful mprotect.
    pub fn apply_mprotect(&mut self, s: usize, n: usize, prot: u8) {
        for page in self.m.pages[s..s + n].iter_mut().flatten() {
            page.prot = prot;
        }
    }

    // ---- madvise / msync ---------------------------------------------------

    /// madvise: DONTNEED drops private anonymous data (zeroes) and private
    /// file copies (the file shows again); shared data stays. Hints change
    /// nothing. ENOMEM with a hole.
    pub fn madvise(&mut self) {
        let (s, n) = self.mapped_range(false);
        let advice = if self.rng.chance(7, 10) {
            MADV_DONTNEED
        } else {
            self.rng.pick(&[MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED])
        };
        let want = self.covered_want(s, n);
        self.note(format_args!("madvise p={s} n={n} advice={advice}"));
        // SAFETY: arena pages only.
        let got = unsafe { mm::madvise(self.addr(s), n * PAGE, advice) }.map(|()| self.base);
        if self.agree("madvise", want, got) && want == Want::At(0) && advice == MADV_DONTNEED {
            self.apply_dontneed(s, n);
        }
        self.check_around(s, s + n, false);
    }

    /// The model after MADV_DONTNEED of `[s, s + n)`.
    pub fn apply_dontneed(&mut self, s: usize, n: usize) {
        for page in self.m.pages[s..s + n].iter_mut().flatten() {
            match &mut page.backing {
                Backing::Anon(v) => *v = 0,
                Backing::File { shared: false, own, .. } => *own = None,
                _ => {}
            }
        }
    }

    /// msync with valid flags: ENOMEM with a hole, else 0 (shared file
    /// pages are written back; the data does not change).
    pub fn msync(&mut self) {
        let (s, n) = self.mapped_range(false);
        let flags =
            self.rng.pick(&[MS_SYNC, MS_ASYNC, MS_SYNC | MS_INVALIDATE, MS_ASYNC | MS_INVALIDATE, MS_INVALIDATE]);
        let want = self.covered_want(s, n);
        self.note(format_args!("msync p={s} n={n} flags={flags}"));
        let got = mm::msync(self.addr(s), n * PAGE, flags).map(|()| self.base);
        self.agree("msync", want, got);
        self.check_around(s, s + n, true);
    }

    /// 0 if `[s, s + n)` is all mapped, else ENOMEM.
    fn covered_want(&self, s: usize, n: usize) -> Want {
        if self.m.covered(s, s + n) { Want::At(0) } else { Want::Err(ENOMEM) }
    }

    // ---- mremap ------------------------------------------------------------

    /// mremap: shrink, grow in place, move (MAYMOVE, FIXED), DONTUNMAP, or
    /// a second mapping of shared pages (`old_len` 0).
    pub fn mremap(&mut self) {
        let (s, in_grant) = self.mapped_range(true);
        let old_len = if self.rng.chance(1, 20) { 0 } else { in_grant.min(6) };
        let mut new_len = self.rng.between(1, 8);
        let choice = self.rng.below(20);
        let flags = match choice {
            0..=4 => 0,
            5..=12 => MREMAP_MAYMOVE,
            13..=16 => MREMAP_MAYMOVE | MREMAP_FIXED,
            _ => {
                new_len = old_len.max(1);
                MREMAP_MAYMOVE | MREMAP_DONTUNMAP
            }
        };
        if flags & MREMAP_DONTUNMAP != 0 && old_len == 0 {
            return;
        }
        let target = self.rng.below(ARENA - new_len + 1);
        self.note(format_args!("mremap p={s} old={old_len} new={new_len} flags={flags:#x} target={target}"));
        let plan = crate::remap::predict(&self.m, s, old_len, new_len, flags, target);
        if plan.is_ok() && self.inject_now() {
            let k = self.rng.below(4);
            self.arm(k);
        }
        // SAFETY: arena pages only (a fixed target is in the arena too).
        let got = unsafe { mm::mremap(self.addr(s), old_len * PAGE, self.addr(target), new_len * PAGE, flags) };
        let plan = match plan {
            Err(errno) => {
                self.agree("mremap", Want::Err(errno), got);
                return self.check_around(s, s + old_len, true);
            }
            Ok(plan) => plan,
        };
        if !self.agree("mremap", plan.want, got) {
            self.check_around(target, target + new_len, false);
            return self.check_around(s, s + old_len, false);
        }
        let Ok(addr) = got else { return };
        self.m.pages = plan.after;
        if !plan.moved.is_empty() {
            match plan.want {
                Want::At(p) => {
                    for (k, page) in plan.moved.iter().enumerate() {
                        self.m.pages[p + k] = Some(*page);
                    }
                }
                _ => self.adopt("mremap", addr, &plan.moved),
            }
        }
        if let Some(p) = self.page_of(addr) {
            self.check_around(p, p + new_len, true);
        }
        self.check_around(s, s + old_len, true);
    }

    // ---- loads and stores --------------------------------------------------

    /// A page, mostly one that allows `write` (or reading).
    fn pick_page(&mut self, write: bool) -> usize {
        let mut p = self.rng.below(ARENA);
        for _ in 0..4 {
            if matches!(self.m.access(p, write), Access::Value(_)) {
                break;
            }
            p = self.rng.below(ARENA);
        }
        p
    }

    /// Stores a new value in a writable page and reads it back; a page that
    /// must fault is left for [`Fuzzer::fault`].
    pub fn write(&mut self) {
        let p = self.pick_page(true);
        if !self.m.writable(p) {
            return;
        }
        let v = self.tag();
        self.note(format_args!("store p={p} {v:#x}"));
        self.store(p, v);
        self.check_page(p);
    }

    /// Checks a readable page's content.
    pub fn read(&mut self) {
        let p = self.pick_page(false);
        self.note(format_args!("load p={p}"));
        self.check_page(p);
    }

    // ---- the files through read() / write() -------------------------------------

    /// `write()`s a new value into a page of a file: shared mappings and
    /// unwritten private pages of it must show it.
    pub fn file_write(&mut self) {
        let f = self.files[self.rng.below(self.files.len())];
        let size = self.m.objects[&f.obj].tags.len();
        let idx = self.rng.below(size);
        let v = self.tag();
        self.note(format_args!("write() file obj {} page {idx} {v:#x}", f.obj));
        let (first, last) = words(v);
        let ok = sys::lseek(f.fd, (idx * PAGE) as isize, SEEK_SET)
            .and_then(|_| sys::write(f.fd, &first.to_le_bytes()))
            .and_then(|_| sys::lseek(f.fd, (idx * PAGE + PAGE - 8) as isize, SEEK_SET))
            .and_then(|_| sys::write(f.fd, &last.to_le_bytes()));
        if let Err(e) = ok {
            return self.fail(format_args!("write() to the file: {}", errno_name(e.errno)));
        }
        if let Some(tag) = self.m.objects.get_mut(&f.obj).and_then(|o| o.tags.get_mut(idx)) {
            *tag = v;
        }
        for p in 0..ARENA {
            if matches!(self.m.pages[p], Some(MPage { backing: Backing::File { obj, idx: i, .. }, .. }) if obj == f.obj && i == idx)
            {
                self.check_page(p);
            }
        }
    }

    /// `read()`s a page of a file: it must hold what the model says
    /// (shared mappings' stores included).
    pub fn file_read(&mut self) {
        let f = self.files[self.rng.below(self.files.len())];
        let size = self.m.objects[&f.obj].tags.len();
        let idx = self.rng.below(size);
        self.note(format_args!("read() file obj {} page {idx}", f.obj));
        self.check_file_page(f, idx);
    }

    /// Checks file page `idx` through `read()`.
    pub fn check_file_page(&mut self, f: FileObj, idx: usize) {
        let mut first = [0u8; 8];
        let mut last = [0u8; 8];
        let ok = sys::lseek(f.fd, (idx * PAGE) as isize, SEEK_SET)
            .and_then(|_| sys::read(f.fd, &mut first))
            .and_then(|_| sys::lseek(f.fd, (idx * PAGE + PAGE - 8) as isize, SEEK_SET))
            .and_then(|_| sys::read(f.fd, &mut last));
        if let Err(e) = ok {
            return self.fail(format_args!("read() of the file: {}", errno_name(e.errno)));
        }
        let v = self.m.objects[&f.obj].tags[idx];
        let got = (u64::from_le_bytes(first), u64::from_le_bytes(last));
        if got != words(v) {
            self.fail(format_args!("read() of file obj {} page {idx} gives {got:x?}, the model says {v:#x}", f.obj));
        }
    }
}

/// `backing` `k` pages further on.
pub fn advance(backing: Backing, k: usize) -> Backing {
    match backing {
        Backing::Object { obj, idx } => Backing::Object { obj, idx: idx + k },
        Backing::File { obj, lease, idx, shared, own, writable_fd } => {
            Backing::File { obj, lease, idx: idx + k, shared, own, writable_fd }
        }
        other => other,
    }
}
