//! The shell's language, kept apart from the program (`main.rs`) so the
//! host can test it: [`lexer`] splits text into words and operators,
//! [`parser`] builds the command tree, [`expand`] turns words into
//! arguments, [`path`] resolves paths against the shell's working
//! directory. The whole shell is described in `docs/shell.md`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod expand;
pub mod lexer;
pub mod parser;

/// Path resolution against the working directory: tessera-sys's.
pub use tessera_runtime::path;
