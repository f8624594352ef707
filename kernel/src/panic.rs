//! Kernel panics: one `KERNEL PANIC` line (the boot harness fails on it),
//! then the machine stops with a failure status.

use core::fmt::Write;
use core::panic::PanicInfo;

use crate::{ExitCode, console};

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    crate::arch::disable_interrupts();
    let mut out = console::emergency_writer();
    let _ = writeln!(out, "\nKERNEL PANIC: {}", info.message());
    if let Some(loc) = info.location() {
        let _ = writeln!(out, "  at {}:{}:{}", loc.file(), loc.line(), loc.column());
    }
    crate::stop(ExitCode::Failure)
}
