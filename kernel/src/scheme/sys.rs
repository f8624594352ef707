//! `sys:` — text about the running kernel, one file per topic:
//!
//! - `sys:memory`: `free_frames N`, `total_frames N`, `page_size 4096`,
//!   `heap_bytes N` (the kernel heap's mapped size, which only grows),
//!   `heap_used_bytes N`, `zeroed_pool N target N hits N misses N
//!   idle_zeroed N` (free frames idle CPUs zeroed, in the pool now; its
//!   target; demand-zero frames taken from it and zeroed on the spot;
//!   frames idle CPUs zeroed so far: `mm::frames`)
//! - `sys:processes`: a header, then `pid ppid state pages threads name` per
//!   process (pages: resident user pages)
//! - `sys:scheduler`: `switches N`, `root_loads N` (user roots loaded: a
//!   thread that follows one of its own process keeps the root), `runnable
//!   N`, `cpus N` (CPUs
//!   scheduling), then `cpuK ticks N busy_ticks N ipis N` per CPU (busy
//!   ticks interrupted user code; ipis are reschedule IPIs received), then
//!   `tlbK shootdowns N ipis_sent N acks N` per CPU, then `tlb_tags asid
//!   COUNT rollovers N` (aarch64: ASIDs in use, generation rollovers so
//!   far) or `tlb_tags none`
//! - `sys:maps`: the reader's own mappings, `START-END PERMS KIND RESIDENT`
//!   per grant (16 hex digits each; PERMS like `rw-p`/`r--s`; KIND `anon`,
//!   `shared`, `phys`, `external`, `fmap` or `stack`; resident pages), then
//!   `total mapped_pages M resident_pages R` (like Linux's
//!   `/proc/self/maps`)
//! - `sys:maps/PID`: the same for process PID (ESRCH if there is none or it
//!   has ended; ENOENT if PID is not a number), like `/proc/PID/maps`
//! - `sys:uname`: `Tessera VERSION ARCH`, one line (VERSION as in the boot
//!   banner)
//!
//! Two files take writes, as test knobs:
//! - `sys:inject`: `frame N` makes the writer's N-th next user-memory frame
//!   allocation (0 = the next) fail, once; `off` clears it. An mm call that
//!   hits it must fail with ENOMEM and leave everything as before, unless
//!   MADV_FREE pages could be reclaimed (the writer's, or another
//!   process's): then, as in a real shortage, they are, and it succeeds.
//!   `shootdown off` (privileged writers only, else EPERM: stale entries
//!   could reach frames that other processes reuse) makes the writer's mm
//!   calls flush only their own CPU's TLB, a missing shootdown on purpose,
//!   so `mm-threads` can show it notices one; `shootdown on` undoes it.
//!   Fork gives the child fresh knobs. `tlb rollover N` (privileged
//!   writers only, else EPERM; global, not per process) makes the kernel
//!   start a new TLB-tag generation (aarch64 ASIDs) every N context
//!   switches, 0 only when tags run out, so that spaces share tags across
//!   generations all the time (guest test `tlb-tags`); nothing where the
//!   arch has no tags.
//! - `sys:privilege`: reads `privileged`, `privileged keep-on-exec` or
//!   `unprivileged` (the reader's own state, one line). Writing `drop`
//!   makes the writer unprivileged for good; `keep-on-exec` (privileged
//!   writers only, EPERM otherwise) makes its next successful `execve`
//!   keep the privilege, which every other `execve` drops; anything else is
//!   EINVAL. A privileged process may open `memory:physical`, write
//!   `sys:power` and raise its `sys:limits` cap; `fork` copies the
//!   privilege, not `keep-on-exec` (docs/kernel.md, "Privilege").
//!
//! And one is a real knob, of the reader's or writer's own process:
//! - `sys:limits`: the reader's limits, one `NAME VALUE` line each:
//!   `as BYTES` or `as unlimited` (the RLIMIT_AS-like cap on mapped memory,
//!   in bytes), then `maps COUNT` (the most mappings the space may hold,
//!   Linux's `vm.max_map_count`, default 65530). Writing one line of the
//!   same form (`as` rounded up to pages) sets that limit of the writer:
//!   mmap, mremap and stack growth past `as` fail (ENOMEM; SIGSEGV for
//!   stack growth); mmap, mprotect, munmap and mremap that would need more
//!   grants than `maps` fail with ENOMEM. Setting a limit below the current
//!   use is allowed and only stops growth, as Linux's `setrlimit`. Fork and
//!   exec keep both. A privileged process may set any value; an
//!   unprivileged one may only keep or lower them (EPERM otherwise), as
//!   Linux allows raising a hard limit only with CAP_SYS_RESOURCE.
//!   Anything else written is EINVAL.
//!
//! And one is a machine control, for privileged processes only (any write
//! by an unprivileged one is EPERM, checked before the command; anything
//! else written is EINVAL). A console user powers off through init's
//! `init:power` instead (docs/init.md):
//! - `sys:power`: `shutdown` powers off (ACPI S5 on x86_64, PSCI
//!   SYSTEM_OFF on aarch64), `reboot` resets (the FADT reset register or
//!   port 0xCF9; PSCI SYSTEM_RESET). In a test image either ends QEMU as a
//!   pass, as init exiting with 0 does. Reads are empty.
//!
//! The text is made when the file is opened, so one open reads a consistent
//! snapshot.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::sync::Mutex;
use tessera_abi::Stat;
use tessera_abi::error::{EBADF, EINVAL, ENOENT, EOPNOTSUPP, EPERM, ESRCH, Error, Result};
use tessera_abi::flag::MODE_FILE;

use tessera_mm::Prot;

use super::{KernelScheme, seek_position};
use crate::process::{self, State};
use crate::{arch, mm, sched};

#[derive(Default)]
pub struct SysScheme {
    next: AtomicUsize,
    open: Mutex<BTreeMap<usize, (String, usize)>>,
    /// Each handle's file name, for writes.
    paths: Mutex<BTreeMap<usize, String>>,
}

/// Runs `f` on the failure injector of `process`'s address space.
fn with_injector(process: &process::Process, f: impl FnOnce(&mm::FailInjector)) {
    if let Some(space) = process.space.lock().as_ref() {
        f(&space.inject);
    }
}

/// One limit a `sys:limits` command sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Limit {
    /// The mapped-pages cap (`as BYTES`, rounded up; `None`: unlimited).
    AddressSpace(Option<u64>),
    /// The most grants the space may hold (`maps N`).
    Maps(u64),
}

/// The `sys:limits` text of `space`: one `NAME VALUE` line per limit.
fn render_limits(space: &mm::UserSpace) -> String {
    let mut text = match space.max_mapped_pages() {
        Some(pages) => format!("as {}\n", pages.saturating_mul(rmm::PAGE_SIZE)),
        None => String::from("as unlimited\n"),
    };
    let _ = writeln!(text, "maps {}", space.max_grants());
    text
}

/// The limit a `sys:limits` command asks for: `as BYTES` (rounded up to
/// pages), `as unlimited`, or `maps COUNT`. EINVAL for anything else.
fn parse_limits(command: &str) -> Result<Limit> {
    let mut words = command.split_ascii_whitespace();
    let (Some(name), Some(value), None) = (words.next(), words.next(), words.next()) else {
        return Err(Error::new(EINVAL));
    };
    if name == "as" && value == "unlimited" {
        return Ok(Limit::AddressSpace(None));
    }
    // Digits only: `parse` alone would take a leading `+`.
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::new(EINVAL));
    }
    let number: u64 = value.parse().map_err(|_| Error::new(EINVAL))?;
    match name {
        "as" => Ok(Limit::AddressSpace(Some(number.div_ceil(rmm::PAGE_SIZE)))),
        "maps" => Ok(Limit::Maps(number)),
        _ => Err(Error::new(EINVAL)),
    }
}

/// Sets one of `process`'s limits. EPERM if the process is unprivileged
/// and the new value is above the old one (no cap is above every number).
fn set_limit(process: &process::Process, limit: Limit) -> Result<()> {
    let mut space = process.space.lock();
    let space = space.as_mut().expect("a running process has a space");
    let raises = match limit {
        Limit::AddressSpace(cap) => match (space.max_mapped_pages(), cap) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(old), Some(new)) => new > old,
        },
        Limit::Maps(cap) => cap > space.max_grants(),
    };
    if raises && !process.is_privileged() {
        return Err(Error::new(EPERM));
    }
    match limit {
        Limit::AddressSpace(cap) => space.set_max_mapped_pages(cap),
        Limit::Maps(cap) => space.set_max_grants(cap),
    }
    Ok(())
}

fn render(path: &str) -> Result<String> {
    let mut text = String::new();
    match path.trim_matches('/') {
        "memory" => {
            let _ = write!(
                text,
                "free_frames {}\ntotal_frames {}\npage_size {}\nheap_bytes {}\nheap_used_bytes {}\n",
                mm::free_frames(),
                mm::total_frames(),
                rmm::PAGE_SIZE,
                mm::heap_size_bytes(),
                mm::heap_used_bytes()
            );
            let [frames, target, hits, misses, idle] = mm::pool_stats();
            let _ =
                writeln!(text, "zeroed_pool {frames} target {target} hits {hits} misses {misses} idle_zeroed {idle}");
        }
        "processes" => {
            text.push_str("pid ppid state pages threads name\n");
            for (pid, ppid, state, name, pages, threads) in process::list() {
                let state = match state {
                    State::Alive => String::from("alive"),
                    State::Zombie(status) => format!("zombie:{status}"),
                };
                let _ = writeln!(text, "{pid} {ppid} {state} {pages} {threads} {name}");
            }
        }
        "scheduler" => {
            let _ = write!(
                text,
                "switches {}\nroot_loads {}\nrunnable {}\ncpus {}\n",
                sched::SWITCHES.load(Ordering::Relaxed),
                sched::ROOT_LOADS.load(Ordering::Relaxed),
                sched::runnable(),
                sched::online_cpus()
            );
            for (cpu, (ticks, busy, ipis)) in sched::cpu_ticks().into_iter().enumerate() {
                let _ = writeln!(text, "cpu{cpu} ticks {ticks} busy_ticks {busy} ipis {ipis}");
            }
            for (cpu, stats) in mm::tlb::stats().into_iter().enumerate().take(sched::online_cpus()) {
                let _ = writeln!(
                    text,
                    "tlb{cpu} shootdowns {} local_only {} ipis_sent {} acks {}",
                    stats.shootdowns, stats.local_only, stats.ipis_sent, stats.acks_received
                );
            }
            let _ = writeln!(text, "{}", arch::tlb::tags_line());
        }
        "maps" => render_maps(&mut text, &process::current())?,
        "uname" => {
            let _ = writeln!(text, "Tessera {} {}", crate::VERSION, crate::arch::NAME);
        }
        "limits" => {
            let process = process::current();
            let space = process.space.lock();
            text = render_limits(space.as_ref().expect("a running process has a space"));
        }
        "privilege" => {
            let process = process::current();
            text.push_str(match (process.is_privileged(), process.keeps_privilege_on_exec()) {
                (true, true) => "privileged keep-on-exec\n",
                (true, false) => "privileged\n",
                (false, _) => "unprivileged\n",
            });
        }
        "inject" | "power" => {}
        "" => text.push_str("memory\nprocesses\nscheduler\nmaps\ninject\nprivilege\nlimits\nuname\npower\n"),
        other => match other.strip_prefix("maps/").map(str::parse::<usize>) {
            Some(Ok(pid)) => render_maps(&mut text, &*process::get(pid).ok_or(Error::new(ESRCH))?)?,
            _ => return Err(Error::new(ENOENT)),
        },
    }
    Ok(text)
}

/// `process`'s grants, `sys:maps` lines; ESRCH if it has no address space
/// any more (a zombie).
fn render_maps(text: &mut String, process: &process::Process) -> Result<()> {
    let space = process.space.lock();
    let space = space.as_ref().ok_or(Error::new(ESRCH))?;
    for grant in space.describe() {
        let bit = |flag, c| if grant.prot.contains(flag) { c } else { '-' };
        let _ = writeln!(
            text,
            "{:016x}-{:016x} {}{}{}{} {} {}",
            grant.start.get(),
            grant.end.get(),
            bit(Prot::READ, 'r'),
            bit(Prot::WRITE, 'w'),
            bit(Prot::EXEC, 'x'),
            if grant.shared { 's' } else { 'p' },
            if grant.grows_down { "stack" } else { grant.kind.name() },
            grant.resident_pages
        );
    }
    let _ = writeln!(text, "total mapped_pages {} resident_pages {}", space.mapped_pages(), space.pages());
    Ok(())
}

impl KernelScheme for SysScheme {
    fn open(&self, path: &str, _flags: usize) -> Result<usize> {
        let text = render(path)?;
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.open.lock().insert(id, (text, 0));
        self.paths.lock().insert(id, String::from(path.trim_matches('/')));
        Ok(id)
    }

    fn read(&self, id: usize, buf: &mut [u8]) -> Result<usize> {
        let mut open = self.open.lock();
        let (text, pos) = open.get_mut(&id).ok_or(Error::new(EBADF))?;
        // `lseek` may leave the offset past the end: nothing to read there.
        let rest = text.as_bytes().get(*pos..).unwrap_or_default();
        let n = buf.len().min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        *pos += n;
        Ok(n)
    }

    fn write(&self, id: usize, buf: &[u8]) -> Result<usize> {
        let path = self.paths.lock().get(&id).cloned().ok_or(Error::new(EBADF))?;
        let process = process::current();
        // The machine control refuses the unprivileged before reading a word.
        if path == "power" && !process.is_privileged() {
            return Err(Error::new(EPERM));
        }
        let command = core::str::from_utf8(buf).map_err(|_| Error::new(EINVAL))?.trim();
        match (path.as_str(), command) {
            ("inject", "off") => with_injector(&process, |i| i.disarm()),
            // Stale translations could reach frames other processes reuse.
            ("inject", "shootdown off" | "shootdown on") if !process.is_privileged() => {
                return Err(Error::new(EPERM));
            }
            ("inject", "shootdown off") => with_injector(&process, |i| i.skip_shootdowns(true)),
            ("inject", "shootdown on") => with_injector(&process, |i| i.skip_shootdowns(false)),
            ("inject", _) if command.starts_with("tlb rollover ") && !process.is_privileged() => {
                return Err(Error::new(EPERM));
            }
            ("inject", _) if command.starts_with("tlb rollover ") => {
                let n = command["tlb rollover ".len()..].trim().parse().map_err(|_| Error::new(EINVAL))?;
                arch::tlb::force_rollover(n);
            }
            ("inject", _) => {
                let n = command.strip_prefix("frame ").and_then(|n| n.trim().parse().ok());
                let n = n.ok_or(Error::new(EINVAL))?;
                with_injector(&process, |i| i.arm(n));
            }
            ("privilege", "drop") => process.drop_privilege(),
            ("privilege", "keep-on-exec") => {
                if !process.arm_keep_on_exec() {
                    return Err(Error::new(EPERM));
                }
            }
            ("privilege", _) => return Err(Error::new(EINVAL)),
            ("limits", _) => set_limit(&process, parse_limits(command)?)?,
            ("power", "shutdown") => crate::power(crate::PowerAction::Off),
            ("power", "reboot") => crate::power(crate::PowerAction::Reset),
            ("power", _) => return Err(Error::new(EINVAL)),
            // The other files are read-only.
            _ => return Err(Error::new(EOPNOTSUPP)),
        }
        Ok(buf.len())
    }

    fn seek(&self, id: usize, offset: isize, whence: usize) -> Result<usize> {
        let mut open = self.open.lock();
        let (text, pos) = open.get_mut(&id).ok_or(Error::new(EBADF))?;
        *pos = seek_position(*pos, text.len(), offset, whence)?;
        Ok(*pos)
    }

    fn fstat(&self, id: usize, stat: &mut Stat) -> Result<()> {
        let open = self.open.lock();
        let (text, _) = open.get(&id).ok_or(Error::new(EBADF))?;
        stat.st_mode = MODE_FILE | 0o444;
        stat.st_size = text.len() as u64;
        Ok(())
    }

    fn close(&self, id: usize) -> Result<()> {
        self.paths.lock().remove(&id);
        self.open.lock().remove(&id).map(|_| ()).ok_or(Error::new(EBADF))
    }
}
