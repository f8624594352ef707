//! What exec makes of a static ELF program before it maps anything: the
//! checks of the ELF header ([`header`]) and of the program headers, and
//! where every page of the image comes from ([`layout`]): lent by the
//! file's scheme, copied from the file, or zero-filled (`.bss`).
//!
//! A hostile file is refused here, before anything in proportion to what
//! its headers claim is allocated: a file too large is [`ExecError::TooLarge`]
//! (EFBIG), anything that is not a well-formed image for this machine
//! [`ExecError::NotExecutable`] (ENOEXEC), a `.bss` larger than all of
//! memory [`ExecError::OutOfMemory`] (ENOMEM) (docs/mm.md, "Kernel memory
//! a process can make the kernel use"). The kernel's `exec`
//! (`kernel/src/exec/`) reads the file and maps what [`Layout`] says
//! (docs/fmap.md, "exec"); this crate does no I/O, so `cargo test` runs it
//! on the host.
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;

pub mod header;
pub mod layout;
#[cfg(test)]
mod tests;

use goblin::elf64::program_header::ProgramHeader;
use rmm::PAGE_SIZE;
use tessera_abi::error::{EFBIG, ENOEXEC, ENOMEM, Error};
use tessera_bootinfo::USER_END;

pub use header::{check_file_size, check_header, parse_program_headers, program_header_bytes};
pub use layout::{FileRun, Layout, ZeroRun, prot};

/// Top of a new program's stack (a guard gap stays above it).
pub const STACK_TOP: u64 = USER_END - 16 * PAGE_SIZE;
/// Pages of stack mapped at exec; segments must end below them.
pub const STACK_PAGES: usize = 64;
/// Lowest address of the stack: where segments must end by.
pub const STACK_BOTTOM: u64 = STACK_TOP - STACK_PAGES as u64 * PAGE_SIZE;
/// Largest program file.
pub const MAX_PROGRAM_BYTES: u64 = 64 << 20;
/// Largest program header table (as Linux's limit).
pub const MAX_PHDR_BYTES: usize = 64 * 1024;
/// Most pages with file bytes one image may have: every page of the
/// largest file, plus the pages two neighbouring segments may both touch.
pub const MAX_DATA_PAGES: u64 =
    MAX_PROGRAM_BYTES / PAGE_SIZE + 2 * (MAX_PHDR_BYTES / core::mem::size_of::<ProgramHeader>()) as u64;

/// Why a program cannot be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecError {
    /// The file is larger than [`MAX_PROGRAM_BYTES`]: EFBIG.
    TooLarge,
    /// Not a static 64-bit ELF executable for this machine, or its
    /// segments do not make an image (outside the file or user space,
    /// overlapping, wrapping, W+X, entry outside): ENOEXEC.
    NotExecutable,
    /// Its writable `.bss` is larger than all of memory: ENOMEM.
    OutOfMemory,
}

impl From<ExecError> for Error {
    fn from(error: ExecError) -> Self {
        Error::new(match error {
            ExecError::TooLarge => EFBIG,
            ExecError::NotExecutable => ENOEXEC,
            ExecError::OutOfMemory => ENOMEM,
        })
    }
}

/// The result of the checks here.
pub type Result<T> = core::result::Result<T, ExecError>;
