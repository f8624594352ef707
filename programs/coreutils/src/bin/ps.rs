//! `ps`: lists every process, from the kernel's `sys:processes`: the pid,
//! the parent's pid, the state (`alive`, or `zombie:STATUS` for one that
//! ended and was not reaped yet), the resident user memory in KiB, the
//! number of threads and the name.
#![no_std]
#![no_main]

use coreutils::sysinfo::{self, read_text};
use coreutils::{EXIT_FAILURE, Tool};
use tessera_runtime::{Args, println};

tessera_runtime::entry!(main);

/// Where the list comes from.
const SOURCE: &str = "sys:processes";

fn main(args: Args) -> i32 {
    let mut tool = Tool::new("ps", "");
    let parsed = match tool.options(coreutils::operands(&args), "") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    if let Some(extra) = parsed.operands.first() {
        return tool.usage_error(format_args!("unexpected operand {extra}"));
    }
    let text = match read_text(SOURCE) {
        Ok(text) => text,
        Err(e) => {
            tool.error(SOURCE, e);
            return EXIT_FAILURE;
        }
    };
    println!("{:>5} {:>5} {:<10} {:>8} {:>7} NAME", "PID", "PPID", "STATE", "RSS_KIB", "THREADS");
    for p in sysinfo::processes(&text) {
        let rss_kib = p.pages * tessera_runtime::mm::PAGE_SIZE / 1024;
        println!("{:>5} {:>5} {:<10} {:>8} {:>7} {}", p.pid, p.ppid, p.state, rss_kib, p.threads, p.name);
    }
    tool.status()
}
