//! What a path inside the archive may look like, checked the same way by the
//! reader (on every entry) and the builder (on every `add_*`).

use core::fmt;

/// Why a path is not a valid initfs path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// The path is empty (the root is implicit and has no entry).
    Empty,
    /// The path starts with `/`; initfs paths are relative.
    LeadingSlash,
    /// The path ends with `/`.
    TrailingSlash,
    /// The path has an empty component (`a//b`).
    EmptyComponent,
    /// The path has a `.` or `..` component.
    DotComponent,
    /// The path contains a NUL byte.
    Nul,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "the path is empty",
            Self::LeadingSlash => "the path starts with '/' (initfs paths are relative)",
            Self::TrailingSlash => "the path ends with '/'",
            Self::EmptyComponent => "the path has an empty component ('//')",
            Self::DotComponent => "the path has a '.' or '..' component",
            Self::Nul => "the path contains a NUL byte",
        })
    }
}

/// Checks that `path` is relative, `/`-separated, with no leading or
/// trailing `/`, no empty, `.` or `..` component and no NUL byte.
pub fn validate_path(path: &str) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.starts_with('/') {
        return Err(PathError::LeadingSlash);
    }
    if path.ends_with('/') {
        return Err(PathError::TrailingSlash);
    }
    if path.contains('\0') {
        return Err(PathError::Nul);
    }
    for component in path.split('/') {
        match component {
            "" => return Err(PathError::EmptyComponent),
            "." | ".." => return Err(PathError::DotComponent),
            _ => {}
        }
    }
    Ok(())
}

/// The parent directory of a valid path: `None` for a top-level entry.
pub(crate) fn parent(path: &str) -> Option<&str> {
    path.rfind('/').map(|slash| &path[..slash])
}
