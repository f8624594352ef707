//! From `_start` to `main`: the initial stack, the program's [`Args`], and
//! the exit with `main`'s status.
//!
//! The kernel's `exec` leaves this on the new stack (Linux/SysV layout, one
//! machine word per cell, lowest address first):
//! ```text
//!   sp → argc
//!        argv[0] … argv[argc-1]   pointers to NUL-terminated strings
//!        NULL
//!        envp[0] … envp[n-1]      pointers to "KEY=value" strings
//!        NULL
//!        key, value               auxv pairs (tessera_abi::auxv::AT_*) …
//!        AT_NULL, 0
//! ```
//! The strings live above that, also on the initial stack. The stack only
//! grows down from `sp`, so nothing ever overwrites this block: the views
//! into it are `'static`.

use alloc::vec::Vec;
use core::ffi::{CStr, c_char};

use tessera_abi::auxv::AT_NULL;

/// A program's arguments, environment and auxiliary vector, as `exec` gave
/// them. Copy it freely: it only holds `'static` views.
#[derive(Clone, Copy, Debug)]
pub struct Args {
    argv: &'static [&'static str],
    envp: &'static [&'static str],
    /// `(key, value)` pairs without the final `AT_NULL`.
    auxv: &'static [[usize; 2]],
}

/// Used for an argument or variable that is not UTF-8 (the kernel's
/// `execve` takes UTF-8 strings, so only a broken stack produces one).
const NOT_UTF8: &str = "\u{FFFD}";

impl Args {
    /// Reads the initial stack at `sp` (layout in the module doc). The
    /// argument and environment views are allocated on the heap once.
    ///
    /// # Safety
    /// `sp` must point at a stack laid out as in the module doc, and that
    /// memory must stay valid and unchanged for the rest of the program.
    pub unsafe fn from_stack(sp: *const usize) -> Self {
        // SAFETY: the caller guarantees `sp` points at `argc`.
        let argc = unsafe { sp.read() };
        // SAFETY: argv starts right after argc, within the same block.
        let argv_ptr = unsafe { sp.add(1) };
        // SAFETY: argv has argc entries and a NULL, as the caller guarantees.
        let argv = unsafe { strings(argv_ptr, Some(argc)) };
        // SAFETY: envp follows argv's NULL.
        let envp_ptr = unsafe { argv_ptr.add(argc + 1) };
        // SAFETY: envp is NULL-terminated, as the caller guarantees.
        let envp = unsafe { strings(envp_ptr, None) };
        // SAFETY: auxv follows envp's NULL.
        let auxv_ptr = unsafe { envp_ptr.add(envp.len() + 1) }.cast::<[usize; 2]>();
        let mut auxc = 0;
        // SAFETY: the pairs run up to and including an AT_NULL key, as the
        // caller guarantees; `auxc` stops at it.
        while unsafe { (*auxv_ptr.add(auxc))[0] } != AT_NULL {
            auxc += 1;
        }
        // SAFETY: `auxc` pairs were just read; the memory stays valid and
        // unchanged ('static) by the caller's guarantee.
        let auxv = unsafe { core::slice::from_raw_parts(auxv_ptr, auxc) };
        Self { argv, envp, auxv }
    }

    /// A view built from static slices, for code that makes its own `Args`
    /// (tests, or a program passing a modified copy on).
    pub const fn new(
        argv: &'static [&'static str],
        envp: &'static [&'static str],
        auxv: &'static [[usize; 2]],
    ) -> Self {
        Self { argv, envp, auxv }
    }

    /// `argv`, `argv[0]` first (by convention the program's name).
    pub fn argv(&self) -> &'static [&'static str] {
        self.argv
    }

    /// `argv[0]`, or `""` when the program was started with no arguments.
    pub fn program(&self) -> &'static str {
        self.argv.first().copied().unwrap_or("")
    }

    /// The environment, as `KEY=value` strings.
    pub fn env(&self) -> &'static [&'static str] {
        self.envp
    }

    /// The value of environment variable `name` (the first, if repeated).
    pub fn var(&self, name: &str) -> Option<&'static str> {
        self.envp.iter().find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    }

    /// The auxiliary vector's value for `key` (`tessera_abi::auxv::AT_*`).
    pub fn aux(&self, key: usize) -> Option<usize> {
        self.auxv.iter().find(|pair| pair[0] == key).map(|pair| pair[1])
    }

    /// The auxiliary vector, `(key, value)` pairs without the final `AT_NULL`.
    pub fn auxv(&self) -> &'static [[usize; 2]] {
        self.auxv
    }
}

/// The strings of a NULL-terminated pointer array, leaked as a `'static`
/// slice. With `count`, exactly that many are read (argv, whose length
/// the stack states).
///
/// # Safety
/// `ptrs` must point at `count` (or, without it, any number of) pointers to
/// NUL-terminated strings followed by a NULL, all valid and unchanged for the
/// rest of the program.
unsafe fn strings(ptrs: *const usize, count: Option<usize>) -> &'static [&'static str] {
    let mut out = Vec::with_capacity(count.unwrap_or(8));
    for i in 0.. {
        if count.is_some_and(|n| i >= n) {
            break;
        }
        // SAFETY: `i` is within the array (count, or before the NULL).
        let ptr = unsafe { ptrs.add(i).read() } as *const c_char;
        if ptr.is_null() {
            break;
        }
        // SAFETY: a non-NULL entry points at a NUL-terminated string that
        // stays valid and unchanged ('static), as the caller guarantees.
        let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
        out.push(core::str::from_utf8(bytes).unwrap_or(NOT_UTF8));
    }
    out.leak()
}

/// Where `_start` lands: sets up the heap, reads the stack, runs `main` and
/// exits with its status. Never returns.
///
/// # Safety
/// Called once, by `_start`, with the initial stack pointer of a program
/// the kernel just `exec`ed (layout in the module doc).
#[cfg(all(target_os = "none", not(test)))]
pub(crate) unsafe extern "C" fn start(sp: *const usize) -> ! {
    unsafe extern "Rust" {
        /// Defined by the program through `entry!`.
        fn __tessera_main(args: Args) -> i32;
    }
    crate::heap::init();
    // SAFETY: `_start` passes the kernel's initial stack pointer; that block
    // is above every frame and is never written again.
    let args = unsafe { Args::from_stack(sp) };
    // SAFETY: `entry!` defines `__tessera_main` with exactly this signature.
    let status = unsafe { __tessera_main(args) };
    crate::sys::exit(status as usize)
}

#[cfg(test)]
mod tests {
    use std::boxed::Box;
    use std::ffi::CString;
    use std::vec;
    use std::vec::Vec;

    use super::*;
    use tessera_abi::auxv::{AT_ENTRY, AT_PAGESZ};

    fn leak(s: &str) -> usize {
        Box::leak(CString::new(s).unwrap().into_boxed_c_str()).as_ptr() as usize
    }

    /// Lays out a stack as `exec` does and reads it back.
    fn stack(argv: &[&str], envp: &[&str], auxv: &[(usize, usize)]) -> Args {
        let mut cells = vec![argv.len()];
        cells.extend(argv.iter().map(|s| leak(s)));
        cells.push(0);
        cells.extend(envp.iter().map(|s| leak(s)));
        cells.push(0);
        for &(k, v) in auxv {
            cells.extend([k, v]);
        }
        cells.extend([AT_NULL, 0]);
        let cells: &'static [usize] = Vec::leak(cells);
        // SAFETY: `cells` is laid out as the module doc says and leaked.
        unsafe { Args::from_stack(cells.as_ptr()) }
    }

    #[test]
    fn reads_the_exec_stack() {
        let args = stack(&["hello", "", "two words", "ünï"], &["PATH=initfs:bin", "EMPTY="], &[(AT_PAGESZ, 4096)]);
        assert_eq!(args.argv(), ["hello", "", "two words", "ünï"]);
        assert_eq!(args.program(), "hello");
        assert_eq!(args.env(), ["PATH=initfs:bin", "EMPTY="]);
        assert_eq!(args.var("PATH"), Some("initfs:bin"));
        assert_eq!(args.var("EMPTY"), Some(""));
        assert_eq!(args.var("PAT"), None);
        assert_eq!(args.aux(AT_PAGESZ), Some(4096));
        assert_eq!(args.aux(AT_ENTRY), None);
        assert_eq!(args.auxv(), [[AT_PAGESZ, 4096]]);
    }

    #[test]
    fn reads_an_empty_stack() {
        let args = stack(&[], &[], &[]);
        assert!(args.argv().is_empty() && args.env().is_empty() && args.auxv().is_empty());
        assert_eq!(args.program(), "");
    }

    #[test]
    fn non_utf8_becomes_a_replacement_character() {
        let bad = Box::leak(CString::new(vec![0xFFu8, 0xFE]).unwrap().into_boxed_c_str()).as_ptr() as usize;
        let cells: &'static [usize] = Vec::leak(vec![1, bad, 0, 0, AT_NULL, 0]);
        // SAFETY: laid out as the module doc says, and leaked.
        let args = unsafe { Args::from_stack(cells.as_ptr()) };
        assert_eq!(args.argv(), [NOT_UTF8]);
    }
}
