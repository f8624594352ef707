//! Paths as user space spells them, and how a relative one is made
//! absolute: the kernel has no working directory (a relative path starts
//! at the root of `file:`), so the shell keeps one in `$PWD` and it and the
//! tools resolve against it here.
//!
//! Three spellings name a place (docs/schemes.md): `/a/b` (on the default
//! scheme `file:`), `name:a/b`, and `/scheme/name/a/b`. [`resolve`] keeps
//! the first as `/a/b`, turns the other two into `name:/a/b` (and
//! `file:/a/b` into `/a/b`), joins a relative path to the working
//! directory, and folds `.`, `..` and empty components (the root's parent
//! is the root), so `..` works on every scheme, `initfs:` (which knows no
//! `..`) included. [`join`], [`file_name`], [`parent`] and
//! [`split_scheme`] take a path apart and put it together without
//! resolving.

use alloc::string::String;
use alloc::vec::Vec;

/// The scheme part of `path` when it is spelled `NAME:…` (a non-empty
/// `NAME` without `/`), and the rest.
fn scheme_prefix(path: &str) -> Option<(&str, &str)> {
    let (name, rest) = path.split_once(':')?;
    (!name.is_empty() && !name.contains('/')).then_some((name, rest))
}

/// Splits `path` into its scheme (`None`: the default `file:`) and the
/// part after it; `None` for a relative path.
fn absolute_parts(path: &str) -> Option<(Option<&str>, &str)> {
    if let Some(rest) = path.strip_prefix("/scheme/") {
        let (name, rest) = rest.split_once('/').unwrap_or((rest, ""));
        return Some((Some(name), rest));
    }
    if path.starts_with('/') {
        return Some((None, path));
    }
    scheme_prefix(path).map(|(name, rest)| (Some(name), rest))
}

/// Whether `path` names a scheme or starts at a root (is not relative).
pub fn is_absolute(path: &str) -> bool {
    absolute_parts(path).is_some()
}

/// `path` made absolute against the working directory `cwd` (itself
/// absolute; a relative one is taken as the root of `file:`) and
/// normalized (see the module doc).
pub fn resolve(cwd: &str, path: &str) -> String {
    let (scheme, rest, base) = match absolute_parts(path) {
        Some((scheme, rest)) => (scheme, rest, ""),
        None => {
            let (scheme, base) = absolute_parts(cwd).unwrap_or((None, "/"));
            (scheme, path, base)
        }
    };
    let mut components: Vec<&str> = Vec::new();
    for component in base.split('/').chain(rest.split('/')) {
        match component {
            "" | "." => {}
            ".." => {
                components.pop();
            }
            name => components.push(name),
        }
    }
    let mut out = String::new();
    if let Some(name) = scheme.filter(|&name| name != "file") {
        out.push_str(name);
        out.push(':');
    }
    for component in &components {
        out.push('/');
        out.push_str(component);
    }
    if components.is_empty() {
        out.push('/');
    }
    out
}

/// `name` inside the directory `dir`: `/` + `a` is `/a`, `initfs:` + `bin`
/// is `initfs:bin`, `/d` + `a` is `/d/a`.
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
    fn relative_paths_join_the_working_directory() {
        assert_eq!(resolve("/", "a/b"), "/a/b");
        assert_eq!(resolve("/tmp", "x/../y/./z/"), "/tmp/y/z");
        assert_eq!(resolve("/tmp", ".."), "/");
        assert_eq!(resolve("/", "../.."), "/");
        assert_eq!(resolve("initfs:/etc", "../bin"), "initfs:/bin");
        assert_eq!(resolve("initfs:/", "bin"), "initfs:/bin");
        assert_eq!(resolve("file:/", "a"), "/a");
        assert_eq!(resolve("file:/home", "a/./b/../c"), "/home/a/c");
        assert_eq!(resolve("file:/home", "../../.."), "/");
        assert_eq!(resolve("file:/home", "."), "/home");
        assert_eq!(resolve("initfs:", "bin"), "initfs:/bin");
        assert_eq!(resolve("initfs:bin", ".."), "initfs:/");
        assert_eq!(resolve("home", "x"), "/x", "a relative cwd is not one: the root");
    }

    #[test]
    fn absolute_paths_are_normalized() {
        assert_eq!(resolve("/tmp", "/a//b"), "/a/b");
        assert_eq!(resolve("/tmp", "initfs:bin"), "initfs:/bin");
        assert_eq!(resolve("/tmp", "initfs:"), "initfs:/");
        assert_eq!(resolve("/tmp", "/scheme/initfs/bin/ls"), "initfs:/bin/ls");
        assert_eq!(resolve("/tmp", "file:/x"), "/x");
        assert_eq!(resolve("/tmp", "sys:processes"), "sys:/processes");
        assert_eq!(resolve("file:/home", "file://a//b/"), "/a/b");
        assert!(is_absolute("sys:memory") && is_absolute("/x") && !is_absolute("a/b:c") && !is_absolute(":x"));
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
        assert_eq!(join("/d", "a"), "/d/a");
    }

    #[test]
    fn schemes() {
        assert_eq!(split_scheme("file:/a"), ("file", "/a"));
        assert_eq!(split_scheme("/scheme/sys/memory"), ("sys", "/memory"));
        assert_eq!(split_scheme("/a"), ("file", "/a"));
        assert_eq!(split_scheme("ramfs-x:x"), ("ramfs-x", "x"));
    }
}
