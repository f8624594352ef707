//! Paths as the tools take them: relative to the current directory.
//!
//! The kernel has no working directory: a path without a scheme is
//! `file:`'s and starts at its root (`a/b` is `file:a/b` = `file:/a/b`).
//! The shell keeps the current directory in the environment variable
//! `PWD` (a `scheme:path` such as `file:/home` or `initfs:bin`, or a plain
//! `/path`, meaning `file:`'s), so the tools resolve a relative operand
//! against `$PWD` ([`cwd`]); without `PWD` the current directory is
//! [`DEFAULT_CWD`]. Resolving, joining and taking paths apart is
//! tessera-sys's `path` (the shell's too), re-exported here.

use tessera_runtime::Args;

pub use tessera_runtime::path::*;

/// The current directory when `PWD` is unset or empty.
pub const DEFAULT_CWD: &str = "file:/";

/// The current directory: `$PWD`, else [`DEFAULT_CWD`].
pub fn cwd(args: &Args) -> &'static str {
    args.var("PWD").filter(|pwd| !pwd.is_empty()).unwrap_or(DEFAULT_CWD)
}
