//! The kernel console: the arch's serial port behind a lock, and the
//! `print!`/`println!` macros. Fault and panic reports use
//! [`emergency_writer`], which skips the lock so a fault taken while printing
//! can still be reported.

use core::fmt::{self, Write};

use crate::arch::hooks::{self, SerialWriter};
use crate::sync::Mutex;

static LOCK: Mutex<()> = Mutex::new(());

#[doc(hidden)]
pub fn _print(args: fmt::Arguments) {
    let _guard = LOCK.lock();
    let _ = SerialWriter.write_fmt(args);
}

/// Writes raw bytes (from user programs) to the console.
pub fn write_bytes(bytes: &[u8]) {
    let _guard = LOCK.lock();
    hooks::write_bytes(bytes);
}

/// A writer that does not take the console lock (for fault reports).
pub fn emergency_writer() -> SerialWriter {
    SerialWriter
}

/// Prints to the kernel console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::console::_print(format_args!($($arg)*)));
}

/// Prints a line to the kernel console.
#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::console::_print(format_args!("{}\n", format_args!($($arg)*))));
}
