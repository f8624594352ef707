//! `sys:` — read-only text about the running kernel, one file per topic:
//!
//! - `sys:memory`: `free_frames N`, `total_frames N`, `page_size 4096`,
//!   `heap_bytes N` (the kernel heap's mapped size, which only grows),
//!   `heap_used_bytes N`
//! - `sys:processes`: a header, then `pid ppid state pages name` per process
//! - `sys:scheduler`: `switches N`, `runnable N`, `cpus N` (CPUs
//!   scheduling), then `cpuK ticks N busy_ticks N ipis N` per CPU (busy
//!   ticks interrupted user code; ipis are reschedule IPIs received)
//!
//! The text is made when the file is opened, so one open reads a consistent
//! snapshot.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};

use spin::Mutex;
use tessera_abi::Stat;
use tessera_abi::error::{EBADF, ENOENT, Error, Result};
use tessera_abi::flag::MODE_FILE;

use super::{KernelScheme, seek_position};
use crate::process::{self, State};
use crate::{mm, sched};

#[derive(Default)]
pub struct SysScheme {
    next: AtomicUsize,
    open: Mutex<BTreeMap<usize, (String, usize)>>,
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
                "switches {}\nrunnable {}\ncpus {}\n",
                sched::SWITCHES.load(Ordering::Relaxed),
                sched::runnable(),
                sched::online_cpus()
            );
            for (cpu, (ticks, busy, ipis)) in sched::cpu_ticks().into_iter().enumerate() {
                let _ = writeln!(text, "cpu{cpu} ticks {ticks} busy_ticks {busy} ipis {ipis}");
            }
        }
        "" => text.push_str("memory\nprocesses\nscheduler\n"),
        _ => return Err(Error::new(ENOENT)),
    }
    Ok(text)
}

impl KernelScheme for SysScheme {
    fn open(&self, path: &str, _flags: usize) -> Result<usize> {
        let text = render(path)?;
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.open.lock().insert(id, (text, 0));
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
        self.open.lock().remove(&id).map(|_| ()).ok_or(Error::new(EBADF))
    }
}
