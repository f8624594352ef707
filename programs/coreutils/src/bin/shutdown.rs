//! `shutdown`: powers the machine off, by writing `shutdown` to init's
//! `init:power`; init writes it to the kernel's `sys:power` (ACPI S5 on
//! x86_64, PSCI SYSTEM_OFF on aarch64; QEMU exits). The tool itself is
//! unprivileged, as everything the shell runs (docs/init.md, "Privilege").
#![no_std]
#![no_main]

use coreutils::Tool;
use tessera_runtime::Args;

tessera_runtime::entry!(main);

fn main(args: Args) -> i32 {
    coreutils::power(&mut Tool::new("shutdown", ""), &args, "shutdown", "powering off")
}
