//! relibc-shim: the C library ported C programs link against on Tessera.
//!
//! It will provide `crt0`, the headers, `libc.a` (Redox's mmap mapping through
//! `fmap`/`funmap`, file and process calls) and a `<arch>-unknown-tessera-cc`
//! wrapper. It is built for hard-float targets because C passes floats in
//! FP registers (see `docs/boot.md` toolchain notes). Empty until user
//! processes exist.
#![no_std]
