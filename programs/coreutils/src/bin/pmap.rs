//! `pmap [PID | self]`: a process's address space, grant by grant, from
//! the kernel's `sys:maps/PID` (`sys:maps` for `self` or no operand: the
//! address space of `pmap` itself).
//!
//! A header names the process (from `sys:processes`), then one line per
//! grant: its start address, size and resident memory in KiB, the
//! permissions (`r`/`w`/`x`, then `p` private or `s` shared) and the kind
//! of provider behind it (`anon` private anonymous memory, `shared`
//! shared anonymous or `memory:` memory, `phys` borrowed physical memory,
//! `external` pages another address space lends, `fmap` file pages a
//! filesystem scheme lends, `stack` the main stack), and the totals.
#![no_std]
#![no_main]

extern crate alloc;

use coreutils::sysinfo::{self, read_text};
use coreutils::{EXIT_FAILURE, Tool};
use tessera_runtime::abi::error::{ENOENT, ESRCH};
use tessera_runtime::mm::PAGE_SIZE;
use tessera_runtime::{Args, Error, println, sys};

tessera_runtime::entry!(main);

fn main(args: Args) -> i32 {
    let mut tool = Tool::new("pmap", "[PID | self]");
    let parsed = match tool.options(coreutils::operands(&args), "") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    let (pid, source) = match parsed.operands.as_slice() {
        [] | ["self"] => (sys::getpid().unwrap_or(0), alloc::string::String::from("sys:maps")),
        [word] => match word.parse::<usize>() {
            Ok(pid) => (pid, alloc::format!("sys:maps/{pid}")),
            Err(_) => return tool.usage_error(format_args!("not a process id: {word}")),
        },
        _ => return tool.usage_error(format_args!("one process at a time")),
    };
    let processes = read_text("sys:processes").map(|text| sysinfo::processes(&text)).unwrap_or_default();
    let process = processes.iter().find(|p| p.pid == pid);
    let maps = match read_text(&source).and_then(|text| sysinfo::maps(&text)) {
        Ok(maps) => maps,
        Err(e) => {
            report(&mut tool, pid, &source, e, process.is_some());
            return EXIT_FAILURE;
        }
    };
    println!("{pid}: {}", process.map_or("?", |p| p.name.as_str()));
    println!("{:<16} {:>10} {:>10} {:<4} KIND", "ADDRESS", "KBYTES", "RSS_KIB", "PERM");
    for grant in &maps.grants {
        println!(
            "{:016x} {:>10} {:>10} {:<4} {}",
            grant.start,
            grant.bytes() / 1024,
            grant.resident_pages * PAGE_SIZE / 1024,
            grant.perms,
            grant.kind
        );
    }
    println!(
        "{:<16} {:>10} {:>10} ({} grants)",
        "total",
        maps.mapped_pages * PAGE_SIZE / 1024,
        maps.resident_pages * PAGE_SIZE / 1024,
        maps.grants.len()
    );
    tool.status()
}

/// Explains a failed read of `source`: no such process, or a kernel that
/// does not list other processes' grants yet.
fn report(tool: &mut Tool, pid: usize, source: &str, error: Error, listed: bool) {
    match error.errno {
        ESRCH | ENOENT if !listed => tool.error(&alloc::format!("{pid}"), Error::new(ESRCH)),
        ENOENT => tool.fail(format_args!(
            "{pid}: this kernel has no {source} (ENOENT): it cannot show another process's grants yet"
        )),
        _ => tool.error(source, error),
    }
}
