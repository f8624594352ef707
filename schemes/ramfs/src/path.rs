//! Paths as the kernel passes them (the part after `file:`): `/a/b`,
//! `a//b/`, `./a/../b`, or empty for the root. Relative and absolute paths
//! are the same: the kernel has no working directory, so both start at the
//! root.
//!
//! [`parse`] splits a path into the components before the last, which the
//! tree walks (`.` and `..` included: `..` is the parent of the directory
//! reached so far, the root's own parent is the root, as POSIX says), and
//! the last one, which each call treats its own way (created, removed,
//! opened). Empty components (`//`) are dropped; a `/` after the last
//! component means it must be a directory.

use alloc::vec::Vec;

use tessera_runtime::abi::dirent::NAME_MAX_BYTES;
use tessera_runtime::abi::error::{EINVAL, ENAMETOOLONG};
use tessera_runtime::{Error, Result};

/// A path's last component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Last<'a> {
    /// No component at all (``, `/`, `//`): the root itself.
    Root,
    /// `.`: the directory the components before name.
    Dot,
    /// `..`: that directory's parent.
    DotDot,
    /// An entry name.
    Name(&'a str),
}

/// A path split for a call.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The components before the last, in order.
    pub dirs: Vec<&'a str>,
    pub last: Last<'a>,
    /// A `/` follows the last component: it must name a directory.
    pub trailing_slash: bool,
}

/// Splits `path`. Errors: ENAMETOOLONG a component over 255 bytes,
/// EINVAL a NUL byte (names are C strings for POSIX programs).
pub fn parse(path: &str) -> Result<Parsed<'_>> {
    let mut dirs = Vec::new();
    for component in path.split('/').filter(|c| !c.is_empty()) {
        if component.len() > NAME_MAX_BYTES {
            return Err(Error::new(ENAMETOOLONG));
        }
        if component.contains('\0') {
            return Err(Error::new(EINVAL));
        }
        dirs.push(component);
    }
    let trailing_slash = path.ends_with('/') && !dirs.is_empty();
    let last = match dirs.pop() {
        None => Last::Root,
        Some(".") => Last::Dot,
        Some("..") => Last::DotDot,
        Some(name) => Last::Name(name),
    };
    Ok(Parsed { dirs, last, trailing_slash })
}

#[cfg(test)]
mod tests {
    use std::string::String;
    use std::vec;

    use super::*;

    #[test]
    fn components() {
        let p = parse("/a//b/./c").unwrap();
        assert_eq!((p.dirs, p.last, p.trailing_slash), (vec!["a", "b", "."], Last::Name("c"), false));
        let p = parse("a/../b/").unwrap();
        assert_eq!((p.dirs, p.last, p.trailing_slash), (vec!["a", ".."], Last::Name("b"), true));
        for root in ["", "/", "///"] {
            let p = parse(root).unwrap();
            assert_eq!((p.dirs.len(), p.last, p.trailing_slash), (0, Last::Root, false), "{root:?}");
        }
        assert_eq!(parse("/x/.").unwrap().last, Last::Dot);
        assert_eq!(parse("..").unwrap().last, Last::DotDot);
        assert_eq!(parse("name with spaces:and:colons").unwrap().last, Last::Name("name with spaces:and:colons"));
    }

    #[test]
    fn bad_components() {
        let long: String = "x".repeat(NAME_MAX_BYTES + 1);
        assert_eq!(parse(&long), Err(Error::new(ENAMETOOLONG)));
        assert_eq!(parse(&std::format!("/{long}/a")), Err(Error::new(ENAMETOOLONG)));
        assert!(parse(&"x".repeat(NAME_MAX_BYTES)).is_ok());
        assert_eq!(parse("/a\0b"), Err(Error::new(EINVAL)));
    }
}
