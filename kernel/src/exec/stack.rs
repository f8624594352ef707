//! The new program's stack: argument and environment strings at the top,
//! then the words `_start` reads (System V ABI).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use rmm::VirtAddr;
use tessera_abi::error::{E2BIG, Error, Result};

use super::{MAX_ARGS_BYTES, STACK_TOP};
use crate::mm::UserSpace;

/// Writes strings, pointers and auxv at the top of the stack; returns the
/// stack pointer (16-byte aligned, pointing at argc).
pub fn build(space: &mut UserSpace, argv: &[String], envp: &[String], auxv: &[(usize, u64)]) -> Result<u64> {
    let strings: usize = argv.iter().chain(envp).map(|s| s.len() + 1).sum();
    let words = 1 + argv.len() + 1 + envp.len() + 1 + auxv.len() * 2;
    if strings + words * 8 > MAX_ARGS_BYTES {
        return Err(Error::new(E2BIG));
    }
    let mut top = STACK_TOP;
    let mut place = |s: &String| -> Result<u64> {
        top -= s.len() as u64 + 1;
        let mut bytes = vec![0u8; s.len() + 1];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        space.write_bytes(VirtAddr::new(top), &bytes)?;
        Ok(top)
    };
    let argv_ptrs: Vec<u64> = argv.iter().map(&mut place).collect::<Result<_>>()?;
    let envp_ptrs: Vec<u64> = envp.iter().map(&mut place).collect::<Result<_>>()?;

    let mut table: Vec<u64> = Vec::with_capacity(words);
    table.push(argv.len() as u64);
    table.extend(&argv_ptrs);
    table.push(0);
    table.extend(&envp_ptrs);
    table.push(0);
    for &(key, value) in auxv {
        table.push(key as u64);
        table.push(value);
    }
    let sp = (top - table.len() as u64 * 8) & !0xF;
    let bytes: Vec<u8> = table.iter().flat_map(|w| w.to_le_bytes()).collect();
    space.write_bytes(VirtAddr::new(sp), &bytes)?;
    Ok(sp)
}
