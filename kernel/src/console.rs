//! The kernel console: the arch's serial port behind a lock, and the
//! `print!`/`println!` macros. Fault and panic reports use
//! [`emergency_writer`], which skips the lock so a fault taken while printing
//! can still be reported.

use core::fmt::{self, Write};

use crate::sync::Mutex;

use crate::arch::serial;

static LOCK: Mutex<()> = Mutex::new(());

/// Writes straight to the serial port.
pub struct Serial;

impl Write for Serial {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                serial::write_byte(b'\r');
            }
            serial::write_byte(byte);
        }
        Ok(())
    }
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments) {
    let _guard = LOCK.lock();
    let _ = Serial.write_fmt(args);
}

/// Writes raw bytes (from user programs) to the console.
pub fn write_bytes(bytes: &[u8]) {
    let _guard = LOCK.lock();
    for &byte in bytes {
        if byte == b'\n' {
            serial::write_byte(b'\r');
        }
        serial::write_byte(byte);
    }
}

/// A writer that does not take the console lock (for fault reports).
pub fn emergency_writer() -> Serial {
    Serial
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
