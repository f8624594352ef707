//! The ELF header and the program header table: the checks before the
//! segments are looked at.

use alloc::vec;
use alloc::vec::Vec;

use goblin::elf64::header::{self, Header};
use goblin::elf64::program_header::ProgramHeader;

use crate::{ExecError, MAX_PHDR_BYTES, MAX_PROGRAM_BYTES, Result};

/// Bytes of the ELF header, what exec reads first.
pub const HEADER_BYTES: usize = header::SIZEOF_EHDR;
/// Bytes of one program header.
pub const PROGRAM_HEADER_BYTES: usize = core::mem::size_of::<ProgramHeader>();

/// Whether a file of `size` bytes may be a program: EFBIG past
/// [`MAX_PROGRAM_BYTES`], ENOEXEC if it cannot hold an ELF header.
pub fn check_file_size(size: u64) -> Result<()> {
    if size > MAX_PROGRAM_BYTES {
        return Err(ExecError::TooLarge);
    }
    if size < HEADER_BYTES as u64 {
        return Err(ExecError::NotExecutable);
    }
    Ok(())
}

/// The ELF header in `bytes` if it is a 64-bit executable (`ET_EXEC`, so
/// static) for `machine` with program headers of the size this crate
/// reads; ENOEXEC otherwise.
pub fn check_header(bytes: &[u8; HEADER_BYTES], machine: u16) -> Result<Header> {
    if &bytes[..header::SELFMAG] != header::ELFMAG {
        return Err(ExecError::NotExecutable);
    }
    let hdr = *Header::from_bytes(bytes);
    if hdr.e_ident[header::EI_CLASS] != header::ELFCLASS64
        || hdr.e_machine != machine
        || hdr.e_type != header::ET_EXEC
        || usize::from(hdr.e_phentsize) != PROGRAM_HEADER_BYTES
    {
        return Err(ExecError::NotExecutable);
    }
    Ok(hdr)
}

/// Bytes of `hdr`'s program header table, to be read at `e_phoff`:
/// ENOEXEC past [`MAX_PHDR_BYTES`].
pub fn program_header_bytes(hdr: &Header) -> Result<usize> {
    let len = usize::from(hdr.e_phnum) * PROGRAM_HEADER_BYTES;
    if len > MAX_PHDR_BYTES {
        return Err(ExecError::NotExecutable);
    }
    Ok(len)
}

/// The program headers in `table` (whole headers; a partial one at the
/// end is ignored), whatever its alignment.
pub fn parse_program_headers(table: &[u8]) -> Vec<ProgramHeader> {
    let mut phdrs = vec![ProgramHeader::default(); table.len() / PROGRAM_HEADER_BYTES];
    // Cannot fail: `table` holds at least the bytes of `phdrs`.
    let _ = plain::copy_from_bytes(phdrs.as_mut_slice(), table);
    phdrs
}
