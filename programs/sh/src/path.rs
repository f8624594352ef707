//! Paths as the shell sees them: its working directory (the kernel has
//! none; see `docs/shell.md`), and how a path typed by the user is made
//! absolute against it.
//!
//! Three spellings name a place (docs/schemes.md): `/a/b` (on the default
//! scheme `file:`), `name:a/b`, and `/scheme/name/a/b`. [`resolve`] keeps
//! the first as `/a/b`, turns the other two into `name:/a/b`, joins a
//! relative path to the working directory, and folds `.`, `..` and empty
//! components (the root's parent is the root), so `cd ..` works on every
//! scheme, `initfs:` (which knows no `..`) included.

use alloc::string::String;
use alloc::vec::Vec;

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
    match path.split_once(':') {
        Some((name, rest)) if !name.contains('/') => Some((Some(name), rest)),
        _ => None,
    }
}

/// Whether `path` names a scheme or starts at a root (is not relative).
pub fn is_absolute(path: &str) -> bool {
    absolute_parts(path).is_some()
}

/// `path` made absolute against the working directory `cwd` (itself
/// absolute) and normalized (see the module doc).
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
    }

    #[test]
    fn absolute_paths_are_normalized() {
        assert_eq!(resolve("/tmp", "/a//b"), "/a/b");
        assert_eq!(resolve("/tmp", "initfs:bin"), "initfs:/bin");
        assert_eq!(resolve("/tmp", "initfs:"), "initfs:/");
        assert_eq!(resolve("/tmp", "/scheme/initfs/bin/ls"), "initfs:/bin/ls");
        assert_eq!(resolve("/tmp", "file:/x"), "/x");
        assert_eq!(resolve("/tmp", "sys:processes"), "sys:/processes");
        assert!(is_absolute("sys:memory") && is_absolute("/x") && !is_absolute("a/b:c"));
    }
}
