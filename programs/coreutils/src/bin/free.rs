//! `free`: physical memory in KiB, like Linux's `free`, from the kernel's
//! `sys:memory`: the `Mem:` line is total, used (total − free) and free
//! frames × the page size; the `Kheap:` line is the kernel heap (its
//! mapped size, the bytes in use and the rest).
#![no_std]
#![no_main]

use coreutils::sysinfo::{Memory, read_text};
use coreutils::{EXIT_FAILURE, Tool};
use tessera_runtime::{Args, println};

tessera_runtime::entry!(main);

/// Where the numbers come from.
const SOURCE: &str = "sys:memory";

fn main(args: Args) -> i32 {
    let mut tool = Tool::new("free", "");
    let parsed = match tool.options(coreutils::operands(&args), "") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    if let Some(extra) = parsed.operands.first() {
        return tool.usage_error(format_args!("unexpected operand {extra}"));
    }
    let memory = match read_text(SOURCE).and_then(|text| Memory::parse(&text)) {
        Ok(memory) => memory,
        Err(e) => {
            tool.error(SOURCE, e);
            return EXIT_FAILURE;
        }
    };
    println!("{:<6} {:>12} {:>12} {:>12}", "KiB", "total", "used", "free");
    println!("{:<6} {:>12} {:>12} {:>12}", "Mem:", memory.total_kib(), memory.used_kib(), memory.free_kib());
    let heap_kib = memory.heap_bytes / 1024;
    let heap_used_kib = memory.heap_used_bytes.div_ceil(1024);
    println!("{:<6} {:>12} {:>12} {:>12}", "Kheap:", heap_kib, heap_used_kib, heap_kib.saturating_sub(heap_used_kib));
    tool.status()
}
