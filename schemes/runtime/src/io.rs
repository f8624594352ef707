//! Console output (`print!`, `println!`, `eprint!`, `eprintln!`) and
//! whole-file reads.
//!
//! Output goes to fd 1 (`print!`) or fd 2 (`eprint!`), which the kernel
//! opens on the console for the first process and every child inherits.
//! Each macro call is formatted into a small buffer and written with as few
//! `write` calls as fit, so lines from different processes rarely mix.
//! Write errors are ignored: a program has nowhere to report them.

use alloc::vec::Vec;
use core::fmt;

use tessera_abi::Result;
use tessera_abi::flag::O_RDONLY;

use crate::sys;

/// Standard output's fd.
pub const STDOUT: usize = 1;
/// Standard error's fd.
pub const STDERR: usize = 2;

/// Bytes gathered before a `write`.
const BUFFER_BYTES: usize = 256;

/// A buffered `fmt::Write` to an fd; [`FdWriter::flush`] (or drop) writes
/// out what is left.
pub struct FdWriter {
    fd: usize,
    buf: [u8; BUFFER_BYTES],
    len: usize,
}

impl FdWriter {
    pub const fn new(fd: usize) -> Self {
        Self { fd, buf: [0; BUFFER_BYTES], len: 0 }
    }

    /// Writes out the buffer, retrying short writes; drops it on an error.
    pub fn flush(&mut self) {
        let _ = write_all(self.fd, &self.buf[..self.len]);
        self.len = 0;
    }
}

impl fmt::Write for FdWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut bytes = s.as_bytes();
        while !bytes.is_empty() {
            if self.len == BUFFER_BYTES {
                self.flush();
            }
            let n = bytes.len().min(BUFFER_BYTES - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }
}

impl Drop for FdWriter {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Writes all of `bytes` to `fd`, looping over short writes.
/// Errors: those of [`sys::write`]; `EIO` if the fd accepts nothing.
pub fn write_all(fd: usize, mut bytes: &[u8]) -> Result<()> {
    while !bytes.is_empty() {
        match sys::write(fd, bytes)? {
            0 => return Err(tessera_abi::Error::new(tessera_abi::error::EIO)),
            n => bytes = bytes.get(n..).unwrap_or_default(),
        }
    }
    Ok(())
}

/// Reads the whole file at `path` (e.g. `initfs:etc/init.rc`).
/// Errors: those of [`sys::open`] and [`sys::read`].
pub fn read_file(path: &str) -> Result<Vec<u8>> {
    let fd = sys::open(path, O_RDONLY)?;
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let result = loop {
        match sys::read(fd, &mut chunk) {
            Ok(0) => break Ok(()),
            Ok(n) => data.extend_from_slice(&chunk[..n.min(chunk.len())]),
            Err(e) => break Err(e),
        }
    };
    let _ = sys::close(fd);
    result.map(|()| data)
}

#[doc(hidden)]
pub fn _print(fd: usize, args: fmt::Arguments<'_>) {
    let mut out = FdWriter::new(fd);
    let _ = fmt::Write::write_fmt(&mut out, args);
}

/// Prints to standard output (fd 1).
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::io::_print($crate::io::STDOUT, format_args!($($arg)*)) };
}

/// Prints a line to standard output (fd 1).
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::io::_print($crate::io::STDOUT, format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints to standard error (fd 2).
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::io::_print($crate::io::STDERR, format_args!($($arg)*)) };
}

/// Prints a line to standard error (fd 2).
#[macro_export]
macro_rules! eprintln {
    () => { $crate::eprint!("\n") };
    ($($arg:tt)*) => { $crate::io::_print($crate::io::STDERR, format_args!("{}\n", format_args!($($arg)*))) };
}
