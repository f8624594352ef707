//! Paths as the kernel passes them (the part after `SCHEME:`): `/a/b`,
//! `a//b/`, `./a/../b`, or empty for the root. They are resolved by name
//! alone (RedoxFS keeps no parent links and has no symlinks here): `.` is
//! dropped, `..` drops the name before it (the root's parent is the root).

use alloc::string::String;
use alloc::vec::Vec;

use tessera_runtime::abi::dirent::NAME_MAX_BYTES;
use tessera_runtime::abi::error::{EINVAL, ENAMETOOLONG};
use tessera_runtime::{Error, Result};

/// A resolved path: the names from the root, and whether a `/` ended it
/// (then it must name a directory).
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Resolved {
    pub names: Vec<String>,
    pub trailing_slash: bool,
}

impl Resolved {
    /// The parent's names and the last name; None for the root.
    pub fn split_last(&self) -> Option<(&[String], &str)> {
        let (last, dirs) = self.names.split_last()?;
        Some((dirs, last))
    }

    /// `self` is `other` or inside it.
    pub fn within(&self, other: &Resolved) -> bool {
        self.names.starts_with(&other.names)
    }
}

/// Resolves `path`. Errors: ENAMETOOLONG a component over 255 bytes,
/// EINVAL a NUL byte.
pub fn resolve(path: &str) -> Result<Resolved> {
    let mut names: Vec<String> = Vec::new();
    for component in path.split('/').filter(|c| !c.is_empty()) {
        if component.len() > NAME_MAX_BYTES {
            return Err(Error::new(ENAMETOOLONG));
        }
        if component.contains('\0') {
            return Err(Error::new(EINVAL));
        }
        match component {
            "." => {}
            ".." => {
                names.pop();
            }
            name => names.push(String::from(name)),
        }
    }
    let trailing_slash =
        path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..") || path == "." || path == "..";
    Ok(Resolved { names, trailing_slash })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_by_name() {
        let r = resolve("/a//b/./c").unwrap();
        assert_eq!((r.names.join("/"), r.trailing_slash), ("a/b/c".into(), false));
        let r = resolve("a/../b/").unwrap();
        assert_eq!((r.names.join("/"), r.trailing_slash), ("b".into(), true));
        assert!(resolve("/..").unwrap().names.is_empty());
        assert!(resolve("").unwrap().split_last().is_none());
        assert!(resolve("/x/y/z").unwrap().within(&resolve("/x/y").unwrap()));
        assert_eq!(resolve("/a\0b"), Err(Error::new(EINVAL)));
        assert_eq!(resolve(&"x".repeat(NAME_MAX_BYTES + 1)), Err(Error::new(ENAMETOOLONG)));
    }
}
