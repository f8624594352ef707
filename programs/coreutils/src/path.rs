//! Paths as the tools take them: relative to the current directory.
//!
//! The kernel has no working directory: a path without a scheme is
//! `file:`'s and starts at its root (`a/b` is `file:a/b` = `file:/a/b`).
//! The shell keeps the current directory in the environment variable
//! `PWD` (a `scheme:path` such as `file:/home` or `initfs:bin`, or a plain
//! `/path`, meaning `file:`'s), so the tools resolve a relative operand
//! against `$PWD` themselves ([`resolve`]); without `PWD` the current
//! directory is [`DEFAULT_CWD`].
//!
//! Operands that name a scheme (`sys:memory`) or start with `/` are used
//! as they are.

use alloc::string::String;
use alloc::vec::Vec;

use tessera_runtime::Args;

/// The current directory when `PWD` is unset or empty.
pub const DEFAULT_CWD: &str = "file:/";

/// The current directory: `$PWD`, else [`DEFAULT_CWD`].
pub fn cwd(args: &Args) -> &'static str {
    args.var("PWD").filter(|pwd| !pwd.is_empty()).unwrap_or(DEFAULT_CWD)
}

/// The scheme part of `path` when it has one: `NAME:…` with a non-empty
/// `NAME` without `/`.
fn scheme_prefix(path: &str) -> Option<(&str, &str)> {
    let (name, rest) = path.split_once(':')?;
    (!name.is_empty() && !name.contains('/')).then_some((name, rest))
}

/// `path` with a relative one put under `cwd`; `.` and `..` components
/// and repeated `/` of the result are folded away (`..` of a root is the
/// root). Paths with a scheme or a leading `/` are only folded.
pub fn resolve(cwd: &str, path: &str) -> String {
    if path.starts_with('/') {
        return String::from(path);
    }
    if scheme_prefix(path).is_some() {
        return normalize(path);
    }
    normalize(&join(cwd, path))
}

/// Folds `.`, `..` and empty components of the part after the scheme;
/// keeps whether that part started with `/`. A plain path (no scheme)
/// is folded the same way.
pub fn normalize(path: &str) -> String {
    let (scheme, rest) = match scheme_prefix(path) {
        Some((name, rest)) => (Some(name), rest),
        None => (None, path),
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in rest.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    let mut out = String::new();
    if let Some(name) = scheme {
        out.push_str(name);
        out.push(':');
    }
    if rest.starts_with('/') {
        out.push('/');
    }
    out.push_str(&parts.join("/"));
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// `name` inside the directory `dir`: `file:/` + `a` is `file:/a`,
/// `initfs:` + `bin` is `initfs:bin`, `file:/d` + `a` is `file:/d/a`.
pub fn join(dir: &str, name: &str) -> String {
    let mut out = String::from(dir);
    if !(out.is_empty() || out.ends_with('/') || out.ends_with(':')) {
        out.push('/');
    }
    out.push_str(name);
    out
}

/// The last component of `path` (`file:/a/b` → `b`, `sys:memory` →
/// `memory`); empty for a root.
pub fn file_name(path: &str) -> &str {
    let path = path.trim_end_matches('/');
    let start = path.rfind(['/', ':']).map_or(0, |i| i + 1);
    &path[start..]
}

/// `path` without its last component (`file:/a/b` → `file:/a`,
/// `file:/a` → `file:/`, `initfs:bin` → `initfs:`); `None` for a root.
pub fn parent(path: &str) -> Option<&str> {
    let trimmed = path.trim_end_matches('/');
    let name = file_name(trimmed);
    if name.is_empty() {
        return None;
    }
    let head = &trimmed[..trimmed.len() - name.len()];
    let without_slash = head.strip_suffix('/').filter(|h| !h.is_empty() && !h.ends_with(':'));
    Some(without_slash.unwrap_or(head)).filter(|p| !p.is_empty())
}

/// The scheme `path` lives in and the path inside it: `file:/a` →
/// (`file`, `/a`), `/scheme/sys/memory` → (`sys`, `/memory`), `/a` and
/// `a` → (`file`, the path) as the kernel reads them.
pub fn split_scheme(path: &str) -> (&str, &str) {
    if let Some(rest) = path.strip_prefix("/scheme/") {
        let end = rest.find('/').unwrap_or(rest.len());
        return (&rest[..end], &rest[end..]);
    }
    scheme_prefix(path).unwrap_or(("file", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_against_the_current_directory() {
        assert_eq!(resolve("file:/", "a"), "file:/a");
        assert_eq!(resolve("file:/home", "a/./b/../c"), "file:/home/a/c");
        assert_eq!(resolve("file:/home", ".."), "file:/");
        assert_eq!(resolve("file:/home", "../../.."), "file:/");
        assert_eq!(resolve("file:/home", "."), "file:/home");
        assert_eq!(resolve("initfs:", "bin"), "initfs:bin");
        assert_eq!(resolve("initfs:bin", ".."), "initfs:");
        assert_eq!(resolve("/home", "x"), "/home/x");
        assert_eq!(resolve("file:/home", "sys:memory"), "sys:memory");
        assert_eq!(resolve("file:/home", "/etc"), "/etc");
        assert_eq!(resolve("file:/home", "file://a//b/"), "file:/a/b");
    }

    #[test]
    fn names_and_parents() {
        assert_eq!(file_name("file:/a/b"), "b");
        assert_eq!(file_name("file:/a/b/"), "b");
        assert_eq!(file_name("sys:memory"), "memory");
        assert_eq!(file_name("file:/"), "");
        assert_eq!(parent("file:/a/b"), Some("file:/a"));
        assert_eq!(parent("file:/a"), Some("file:/"));
        assert_eq!(parent("initfs:bin"), Some("initfs:"));
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("a"), None);
        assert_eq!(parent("file:/"), None);
        assert_eq!(parent("file:"), None);
        assert_eq!(join("file:/", "a"), "file:/a");
        assert_eq!(join("initfs:", "bin"), "initfs:bin");
        assert_eq!(join("file:/d", "a"), "file:/d/a");
    }

    #[test]
    fn schemes() {
        assert_eq!(split_scheme("file:/a"), ("file", "/a"));
        assert_eq!(split_scheme("/scheme/sys/memory"), ("sys", "/memory"));
        assert_eq!(split_scheme("/a"), ("file", "/a"));
        assert_eq!(split_scheme("ramfs-x:x"), ("ramfs-x", "x"));
    }
}
