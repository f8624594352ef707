//! The host-side builder: collects files and directories, then lays them out
//! in the format the reader checks (see the crate doc).
//!
//! Output is deterministic: entries are ordered by path bytes whatever order
//! they were added in, and [`Builder::from_dir`] normalises modes, so the
//! same tree always packs to the same bytes (the build copies the initfs
//! only when its bytes change).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::format::{
    ENTRY_SIZE, FORMAT_VERSION, HEADER_SIZE, KIND_DIRECTORY, KIND_FILE, MAGIC, MODE_MAX, RawEntry, RawHeader,
    page_align_up,
};
use crate::path::{PathError, validate_path};

/// Mode given to directories that are only implied by a file's path.
const IMPLIED_DIR_MODE: u16 = 0o755;

/// Why the builder refused an input.
#[derive(Debug)]
pub enum BuildError {
    /// `path` is not a valid initfs path.
    InvalidPath { path: String, why: PathError },
    /// `path` was added twice, or as both a file and a directory.
    AlreadyExists { path: String },
    /// A parent of `path` was added as a file.
    ParentIsFile { path: String, parent: String },
    /// `mode` has bits above `0o7777`.
    BadMode { path: String, mode: u32 },
    /// More entries or path bytes than the format's 32-bit fields hold.
    TooLarge { path: String },
    /// Reading the source tree failed.
    Io { path: PathBuf, source: io::Error },
    /// A directory entry that is neither a regular file nor a directory
    /// (symbolic links included: the initfs has none).
    Unsupported { path: PathBuf, what: &'static str },
    /// A file name in the source tree is not UTF-8.
    NotUtf8 { path: PathBuf },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidPath { path, why } => write!(f, "{path:?}: {why}"),
            Self::AlreadyExists { path } => write!(f, "{path:?} is already in the initfs"),
            Self::ParentIsFile { path, parent } => write!(f, "{path:?}: its parent {parent:?} is a file"),
            Self::BadMode { path, mode } => write!(f, "{path:?}: mode {mode:#o} has bits above 0o7777"),
            Self::TooLarge { path } => write!(f, "{path:?}: too many entries or path bytes for the initfs format"),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Unsupported { path, what } => write!(f, "{}: {what} is not supported in an initfs", path.display()),
            Self::NotUtf8 { path } => write!(f, "{}: file name is not UTF-8", path.display()),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[derive(Debug)]
enum Node {
    File { data: Vec<u8>, mode: u16 },
    Directory { mode: u16 },
}

/// Collects entries; [`Builder::build`] writes the archive.
#[derive(Debug, Default)]
pub struct Builder {
    /// Keyed by path: `String`'s order is byte order, the format's order.
    nodes: BTreeMap<String, Node>,
    strings_len_bytes: u64,
}

fn check_mode(path: &str, mode: u32) -> Result<u16, BuildError> {
    u16::try_from(mode)
        .ok()
        .filter(|&m| m <= MODE_MAX)
        .ok_or_else(|| BuildError::BadMode { path: path.to_owned(), mode })
}

impl Builder {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of entries so far (implied directories included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Adds a file; its missing parent directories are added with mode
    /// `0o755`. Errors: an invalid path or mode, a path already present, a
    /// parent that is a file.
    pub fn add_file(&mut self, path: &str, data: impl Into<Vec<u8>>, mode: u32) -> Result<&mut Self, BuildError> {
        let mode = check_mode(path, mode)?;
        self.check_new(path)?;
        self.add_parents(path)?;
        self.insert(path, Node::File { data: data.into(), mode })?;
        Ok(self)
    }

    /// Adds a directory (for one with no files, or to set its mode). Adding
    /// a directory that is already present only updates its mode.
    pub fn add_dir(&mut self, path: &str, mode: u32) -> Result<&mut Self, BuildError> {
        let mode = check_mode(path, mode)?;
        validate_path(path).map_err(|why| BuildError::InvalidPath { path: path.to_owned(), why })?;
        match self.nodes.get_mut(path) {
            Some(Node::Directory { mode: old }) => *old = mode,
            Some(Node::File { .. }) => return Err(BuildError::AlreadyExists { path: path.to_owned() }),
            None => {
                self.add_parents(path)?;
                self.insert(path, Node::Directory { mode })?;
            }
        }
        Ok(self)
    }

    fn check_new(&self, path: &str) -> Result<(), BuildError> {
        validate_path(path).map_err(|why| BuildError::InvalidPath { path: path.to_owned(), why })?;
        if self.nodes.contains_key(path) {
            return Err(BuildError::AlreadyExists { path: path.to_owned() });
        }
        Ok(())
    }

    /// Adds every missing ancestor of the valid path `path` as a directory.
    fn add_parents(&mut self, path: &str) -> Result<(), BuildError> {
        for (slash, _) in path.match_indices('/') {
            let parent = &path[..slash];
            match self.nodes.get(parent) {
                Some(Node::Directory { .. }) => {}
                Some(Node::File { .. }) => {
                    return Err(BuildError::ParentIsFile { path: path.to_owned(), parent: parent.to_owned() });
                }
                None => self.insert(parent, Node::Directory { mode: IMPLIED_DIR_MODE })?,
            }
        }
        Ok(())
    }

    /// Inserts a new node, keeping the totals within the format's fields so
    /// that [`Self::build`] cannot fail.
    fn insert(&mut self, path: &str, node: Node) -> Result<(), BuildError> {
        let strings = self.strings_len_bytes + path.len() as u64;
        if strings > u64::from(u32::MAX) || self.nodes.len() >= u32::MAX as usize {
            return Err(BuildError::TooLarge { path: path.to_owned() });
        }
        self.strings_len_bytes = strings;
        self.nodes.insert(path.to_owned(), node);
        Ok(())
    }

    /// Packs the directory tree at `root` (its contents, not `root` itself):
    /// regular files and directories, recursively, in a deterministic order.
    /// Modes are normalised so the output does not depend on the umask:
    /// files with any execute bit get `0o755`, other files `0o644`,
    /// directories `0o755`. Symbolic links and special files are errors.
    pub fn from_dir(root: impl AsRef<Path>) -> Result<Self, BuildError> {
        let mut builder = Self::new();
        builder.add_tree(root.as_ref(), "")?;
        Ok(builder)
    }

    fn add_tree(&mut self, dir: &Path, prefix: &str) -> Result<(), BuildError> {
        let mut children = Vec::new();
        for item in fs::read_dir(dir).map_err(io_err(dir))? {
            let item = item.map_err(io_err(dir))?;
            let path = item.path();
            let name = item.file_name().into_string().map_err(|_| BuildError::NotUtf8 { path: path.clone() })?;
            children.push((name, path));
        }
        children.sort();
        for (name, path) in children {
            let inner = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let meta = fs::symlink_metadata(&path).map_err(io_err(&path))?;
            let file_type = meta.file_type();
            if file_type.is_dir() {
                self.add_dir(&inner, u32::from(IMPLIED_DIR_MODE))?;
                self.add_tree(&path, &inner)?;
            } else if file_type.is_file() {
                let data = fs::read(&path).map_err(io_err(&path))?;
                self.add_file(&inner, data, if is_executable(&meta) { 0o755 } else { 0o644 })?;
            } else {
                let what = if file_type.is_symlink() { "a symbolic link" } else { "a special file" };
                return Err(BuildError::Unsupported { path, what });
            }
        }
        Ok(())
    }

    /// Writes the archive: header, entry table, string table, then each
    /// file's data on its own page run, in path order; zero padding between.
    pub fn build(&self) -> Vec<u8> {
        let count = self.nodes.len();
        let table_end = HEADER_SIZE + count * ENTRY_SIZE;
        let strings_end = table_end + self.strings_len_bytes as usize;
        let mut out = Vec::with_capacity(page_align_up(strings_end).unwrap_or(strings_end));
        out.resize(table_end, 0);
        let mut next_data = page_align_up(strings_end).unwrap_or(strings_end);
        for (index, (path, node)) in self.nodes.iter().enumerate() {
            let path_offset = out.len() - table_end;
            out.extend_from_slice(path.as_bytes());
            let (kind, mode, data_offset, data_len) = match node {
                Node::Directory { mode } => (KIND_DIRECTORY, *mode, 0, 0),
                Node::File { data, mode } if data.is_empty() => (KIND_FILE, *mode, 0, 0),
                Node::File { data, mode } => {
                    let offset = next_data;
                    next_data = page_align_up(offset + data.len()).unwrap_or(usize::MAX);
                    (KIND_FILE, *mode, offset as u64, data.len() as u64)
                }
            };
            let entry = RawEntry {
                // `insert` keeps the string table within `u32`.
                path_offset: path_offset as u32,
                path_len: path.len() as u32,
                data_offset,
                data_len,
                kind,
                mode,
                reserved: 0,
            };
            let at = HEADER_SIZE + index * ENTRY_SIZE;
            out[at..at + ENTRY_SIZE].copy_from_slice(&entry.encode());
        }
        out.resize(page_align_up(out.len()).unwrap_or(out.len()), 0);
        for node in self.nodes.values() {
            if let Node::File { data, .. } = node {
                out.extend_from_slice(data);
                out.resize(page_align_up(out.len()).unwrap_or(out.len()), 0);
            }
        }
        let header = RawHeader {
            magic: MAGIC,
            version: FORMAT_VERSION,
            entry_count: count as u32,
            total_size_bytes: out.len() as u64,
            strings_len_bytes: self.strings_len_bytes as u32,
            reserved: 0,
        };
        out[..HEADER_SIZE].copy_from_slice(&header.encode());
        out
    }
}

/// Wraps an I/O error with the path it happened on.
fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BuildError + '_ {
    move |source| BuildError::Io { path: path.to_owned(), source }
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}
