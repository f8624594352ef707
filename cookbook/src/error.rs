//! The cookbook's errors: one [`ErrorKind`] per way a cook can fail, and
//! [`Error`], which names the recipe it happened in.
//!
//! A fetch failure is its own kind ([`ErrorKind::Fetch`], [`ErrorKind::Offline`],
//! [`ErrorKind::Checksum`]) and is reported before anything is built, so that
//! it never shows up later as a compiler error about a missing file.

use std::path::PathBuf;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// `recipes/<name>/recipe.toml` does not exist.
    #[error("no recipe: {0} does not exist")]
    NoRecipe(PathBuf),
    /// A file could not be read or written.
    #[error("{path}: {io}")]
    Io { path: PathBuf, io: std::io::Error },
    /// recipe.toml is not valid TOML or does not fit the schema.
    #[error("recipe.toml: {0}")]
    Parse(#[from] toml::de::Error),
    /// recipe.toml parses but is inconsistent (explained in the message).
    #[error("recipe.toml: {0}")]
    Invalid(String),
    /// Build dependencies form a cycle (the names along it, first repeated last).
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// Offline mode, and a source is not in the cache.
    #[error("offline: {what} is not in the cache (wanted {path}); run without --offline to fetch it")]
    Offline { what: String, path: PathBuf },
    /// Downloading a source failed.
    #[error("fetch failed: {url}: {detail}")]
    Fetch { url: String, detail: String },
    /// Offline mode, and several sources are not in the cache (one line each).
    #[error("offline: {} sources are not in the cache; run without --offline to fetch them:\n  {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  "))]
    OfflineMissing(Vec<Error>),
    /// A file's SHA-256 is not the pinned one.
    #[error("checksum mismatch: {file}: expected sha256 {expected}, got {actual}")]
    Checksum { file: PathBuf, expected: String, actual: String },
    /// A host tool the step needs is missing or failed to start.
    #[error("host tool {tool}: {detail}")]
    Tool { tool: String, detail: String },
    /// An archive could not be unpacked.
    #[error("unpacking {archive}: {detail}")]
    Unpack { archive: PathBuf, detail: String },
    /// A build step exited unsuccessfully.
    #[error("{step} failed ({status})")]
    Build { step: String, status: String },
}

/// An [`ErrorKind`] in a named recipe (or in the cookbook itself, `recipe` empty).
#[derive(Debug)]
pub struct Error {
    pub recipe: String,
    pub kind: ErrorKind,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.recipe.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "recipe {}: {}", self.recipe, self.kind)
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.kind)
    }
}

impl ErrorKind {
    /// This error in recipe `recipe`.
    pub fn in_recipe(self, recipe: &str) -> Error {
        Error { recipe: recipe.to_string(), kind: self }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, io: std::io::Error) -> Self {
        ErrorKind::Io { path: path.into(), io }
    }
}

/// Result of one step inside a recipe (the recipe is added by the caller).
pub type KindResult<T> = Result<T, ErrorKind>;
