//! The operations with more than one thread of control: accesses that
//! must fault (made in a forked child, which must die with the signal the
//! model names), fork (a child that checks and writes while the parent
//! waits, then the parent writes while the child waits: private pages stay
//! each side's own, shared ones are seen by both), and threads storing into
//! (and mprotecting) their own pages while the main thread changes
//! protections, drops or remaps pages elsewhere; and a child held across
//! many operations, whose private pages must keep what they held.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use tessera_guest_tests::mm::{read_word, write_word};
use tessera_guest_tests::system::{fork_with, read_full, reap};
use tessera_runtime::abi::error::ENOMEM;
use tessera_runtime::abi::signal::{SIGBUS, SIGSEGV};
use tessera_runtime::mm::{ANONYMOUS_FD, MAP_FIXED, MAP_PRIVATE, PROT_RW};
use tessera_runtime::sys;
use tessera_runtime::{mm, thread};

use crate::model::{ARENA, Access, Backing, MPage, words};
use crate::ops::{Fuzzer, PAGE, Want, prot_flags};

/// Exit status of a child whose access did not fault.
const SURVIVED: i32 = 100;
/// Stores each thread makes per page.
const THREAD_ROUNDS: usize = 8;

impl Fuzzer {
    /// An access the model says must fault, made in a child.
    pub fn fault(&mut self) {
        let mut pick = None;
        for _ in 0..8 {
            let p = self.rng.below(ARENA);
            let write = self.rng.chance(1, 2);
            let access = self.m.access(p, write);
            if !matches!(access, Access::Value(_)) {
                pick = Some((p, write, access));
                break;
            }
        }
        let Some((p, write, access)) = pick else { return };
        let signal = if access == Access::Bus { SIGBUS } else { SIGSEGV };
        self.note(format_args!("fault {} p={p} (must be signal {signal})", if write { "store" } else { "load" }));
        let addr = self.addr(p);
        let status = fork_with(|| {
            if write {
                write_word(addr, 0xDEAD);
            } else {
                core::hint::black_box(read_word(addr));
            }
            SURVIVED
        })
        .and_then(reap);
        match status {
            Ok((_, status)) if status.signal() == Some(signal) => {}
            Ok((_, status)) => self.fail(format_args!("fault at page {p}: the child ended with {status}")),
            Err(e) => self.fail(format_args!("fault: fork/waitpid: {e}")),
        }
    }

    /// Up to `count` distinct pages that allow a store, neither in `avoid`
    /// nor sharing an object page with one in it (two threads storing to
    /// one object page through two mappings would race).
    fn writable_pages(&mut self, count: usize, avoid: &[usize]) -> Vec<usize> {
        let mut pages = Vec::new();
        for _ in 0..count * 4 {
            let p = self.rng.below(ARENA);
            let key = self.m.shared_key(p);
            let twin = key.is_some() && avoid.iter().any(|&q| self.m.shared_key(q) == key);
            if self.m.writable(p) && !pages.contains(&p) && !avoid.contains(&p) && !twin {
                pages.push(p);
                if pages.len() == count {
                    break;
                }
            }
        }
        pages
    }

    /// fork: the child checks every readable page, stores into some pages
    /// and unmaps a range; the parent must see the child's shared stores
    /// only. Then the parent stores while the child waits; the child must
    /// see the parent's shared stores only.
    pub fn fork(&mut self) {
        let child_pages = self.writable_pages(6, &[]);
        let child_plan: Vec<(usize, u64)> = child_pages.iter().map(|&p| (p, self.tag())).collect();
        let parent_pages = self.writable_pages(6, &[]);
        let parent_plan: Vec<(usize, u64)> = parent_pages.iter().map(|&p| (p, self.tag())).collect();
        let parent_shared: Vec<((u32, usize), u64)> =
            parent_plan.iter().filter_map(|&(p, v)| Some((self.m.shared_key(p)?, v))).collect();
        let (unmap_s, unmap_n) = self.range();
        self.note(format_args!(
            "fork: child stores {child_plan:x?}, unmaps p={unmap_s} n={unmap_n}; parent stores {parent_plan:x?}"
        ));
        let (Ok(to_child), Ok(to_parent)) = (sys::pipe2(0), sys::pipe2(0)) else {
            return self.fail(format_args!("fork: pipe2 failed"));
        };
        let child = fork_with(|| {
            let _ = (sys::close(to_child[1]), sys::close(to_parent[0]));
            self.full_check_content();
            if self.failure.is_some() {
                tessera_runtime::println!("mm-fuzz: fork child: right after fork:");
            }
            for &(p, v) in &child_plan {
                self.store(p, v);
            }
            // SAFETY: arena pages of the child's own copy of the space.
            let unmapped = unsafe { mm::munmap(self.addr(unmap_s), unmap_n * PAGE) };
            if unmapped.is_ok() {
                self.m.pages[unmap_s..unmap_s + unmap_n].fill(None);
            }
            let _ = sys::write(to_parent[1], b"1");
            let mut byte = [0u8];
            let _ = read_full(to_child[0], &mut byte);
            for &(key, v) in &parent_shared {
                // The parent's stores to shared pages are the child's too,
                // even where the child unmapped its view of them.
                self.m.write_object(key, v);
            }
            self.full_check_content();
            match &self.failure {
                None => 0,
                Some(failure) => {
                    tessera_runtime::println!("mm-fuzz: fork child at op {}: {failure}", self.op);
                    1
                }
            }
        });
        let _ = (sys::close(to_child[0]), sys::close(to_parent[1]));
        let Ok(child) = child else {
            let _ = (sys::close(to_child[1]), sys::close(to_parent[0]));
            return self.fail(format_args!("fork failed"));
        };
        let mut byte = [0u8];
        let _ = read_full(to_parent[0], &mut byte);
        for &(p, v) in &child_plan {
            if let Some(key) = self.m.shared_key(p) {
                self.m.write_object(key, v);
            }
        }
        self.full_check_content();
        for &(p, v) in &parent_plan {
            self.store(p, v);
        }
        let _ = sys::write(to_child[1], b"1");
        let _ = (sys::close(to_child[1]), sys::close(to_parent[0]));
        match reap(child) {
            Ok((_, status)) if status.success() => {}
            Ok((_, status)) => self.fail(format_args!("fork: the child ended with {status}")),
            Err(e) => self.fail(format_args!("fork: waitpid: {e}")),
        }
        self.full_check_content();
    }

    /// Two threads store into their own pages, many times, while the main
    /// thread stores into others and changes the protection of a range
    /// neither thread touches (a TLB shootdown to the threads' CPUs).
    pub fn threads(&mut self) {
        let first = self.writable_pages(3, &[]);
        let second = self.writable_pages(3, &first);
        let busy: Vec<usize> = first.iter().chain(&second).copied().collect();
        let (s, n) = self.range();
        let (s, n) = if (s..s + n).any(|p| busy.contains(&p)) { (s, 0) } else { (s, n) };
        let prot = self.prot();
        let main_call = self.rng.below(4);
        let mut plans: Vec<Vec<(usize, u64)>> = Vec::new();
        for pages in [&first, &second] {
            let mut plan = Vec::new();
            for _ in 0..THREAD_ROUNDS {
                for &p in pages.iter() {
                    plan.push((p, self.tag()));
                }
            }
            plans.push(plan);
        }
        self.note(format_args!(
            "threads on {first:?} and {second:?}; main mprotect p={s} n={n} {}",
            crate::model::prot_name(prot)
        ));
        let mut handles = Vec::new();
        let refused = Arc::new(AtomicUsize::new(0));
        for plan in &plans {
            let stores: Vec<(usize, u64)> = plan.iter().map(|&(p, v)| (self.addr(p), v)).collect();
            let refused = refused.clone();
            match thread::spawn(move || {
                for (addr, v) in stores {
                    let (first, last) = words(v);
                    write_word(addr, first);
                    write_word(addr + PAGE - 8, last);
                    // The protection it has (a writable page is read-write):
                    // the grant splits and merges again, beside the other
                    // threads' calls and stores.
                    // SAFETY: this thread's own page, which stays writable.
                    if unsafe { mm::mprotect(addr, PAGE, PROT_RW) }.is_err() {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }) {
                Ok(handle) => handles.push(handle),
                Err(e) => return self.fail(format_args!("threads: spawn: {e}")),
            }
        }
        if n > 0 {
            self.main_thread_call(main_call, s, n, prot);
        }
        for handle in handles {
            handle.join();
        }
        if refused.load(Ordering::Relaxed) != 0 {
            self.fail(format_args!("threads: a thread's mprotect of its own page to rw- failed"));
        }
        for plan in &plans {
            for &(p, v) in plan {
                self.m.write(p, v);
            }
        }
        for p in busy {
            self.check_page(p);
        }
        if n > 0 {
            self.check_around(s, s + n, false);
        }
    }
}

impl Fuzzer {
    /// Forks a child that waits, holding its copy-on-write view of the
    /// arena, while this process goes on for a while (remapping, dropping,
    /// storing into pages the two share); when released
    /// ([`Fuzzer::release_held`]) it checks that its private pages still
    /// hold what they held at the fork.
    pub fn hold(&mut self) {
        if self.held.is_some() {
            return;
        }
        let until = self.op + self.rng.between(10, 400) as u64;
        self.note(format_args!("fork a child held until op {until}"));
        let Ok(release) = sys::pipe2(0) else { return self.fail(format_args!("hold: pipe2 failed")) };
        let child = fork_with(|| {
            let _ = sys::close(release[1]);
            let mut byte = [0u8];
            let _ = read_full(release[0], &mut byte);
            // Shared pages and unwritten private file pages may have changed
            // since (the parent's stores, write()); private data may not.
            for p in 0..ARENA {
                let private = match self.m.pages[p].map(|page| page.backing) {
                    Some(Backing::Anon(_)) => true,
                    Some(Backing::File { shared: false, own, .. }) => own.is_some(),
                    _ => false,
                };
                if private {
                    self.check_page(p);
                }
            }
            match &self.failure {
                None => 0,
                Some(failure) => {
                    tessera_runtime::println!("mm-fuzz: held child of op {}: {failure}", self.op);
                    1
                }
            }
        });
        let _ = sys::close(release[0]);
        match child {
            Ok(pid) => self.held = Some((pid, release[1], until)),
            Err(e) => {
                let _ = sys::close(release[1]);
                self.fail(format_args!("hold: fork: {e}"));
            }
        }
    }

    /// Releases the held child if its time has come (or `now`), and checks
    /// how it ended.
    pub fn release_held(&mut self, now: bool) {
        let Some((pid, release, until)) = self.held else { return };
        if !now && self.op < until {
            return;
        }
        self.held = None;
        self.note(format_args!("release the held child"));
        let _ = sys::write(release, b"1");
        let _ = sys::close(release);
        match reap(pid) {
            Ok((_, status)) if status.success() => {}
            Ok((_, status)) => self.fail(format_args!("the held child ended with {status}")),
            Err(e) => self.fail(format_args!("the held child: waitpid: {e}")),
        }
    }

    /// What the main thread does to `[s, s + n)` while the threads store
    /// elsewhere: `call` 0–1 mprotect to `prot`, 2 madvise DONTNEED, 3
    /// munmap then a fresh private mapping with `prot` (MAP_FIXED).
    fn main_thread_call(&mut self, call: usize, s: usize, n: usize, prot: u8) {
        let (addr, len) = (self.addr(s), n * PAGE);
        let (want, got) = match call {
            0..=1 => {
                let want = self.mprotect_want(s, n, prot);
                // SAFETY: arena pages no thread touches.
                (want, unsafe { mm::mprotect(addr, len, prot_flags(prot)) })
            }
            2 => {
                let want = if self.m.covered(s, s + n) { Want::At(0) } else { Want::Err(ENOMEM) };
                // SAFETY: as above.
                (want, unsafe { mm::madvise(addr, len, mm::MADV_DONTNEED) })
            }
            _ => {
                // SAFETY: as above.
                let unmapped = unsafe { mm::munmap(addr, len) };
                // SAFETY: as above.
                let mapped = unsafe { mm::mmap(addr, len, prot_flags(prot), MAP_PRIVATE | MAP_FIXED, ANONYMOUS_FD, 0) };
                (Want::At(0), unmapped.and(mapped.map(drop)))
            }
        };
        let matched = match (want, got) {
            (Want::At(0), Ok(())) => true,
            (Want::Err(errno), Err(e)) => e.errno == errno,
            _ => false,
        };
        if !matched {
            return self.fail(format_args!("threads: the main thread's call {call}: the model says {want:?}"));
        }
        if want != Want::At(0) {
            return;
        }
        match call {
            0..=1 => self.apply_mprotect(s, n, prot),
            2 => self.apply_dontneed(s, n),
            _ => self.m.pages[s..s + n].fill(Some(MPage { prot, backing: Backing::Anon(0) })),
        }
    }

    /// Checks every readable page of the arena: its two words, and that a
    /// word between them (a different one each time) is still zero.
    pub fn full_check_content(&mut self) {
        for p in 0..ARENA {
            self.check_page(p);
            if matches!(self.m.access(p, false), Access::Value(_)) {
                let offset = 8 + ((p + self.op as usize) * 8) % (PAGE - 16);
                let word = read_word(self.addr(p) + offset);
                if word != 0 {
                    self.fail(format_args!("page {p}: word at offset {offset:#x} is {word:#x}, never written"));
                }
            }
        }
    }
}
