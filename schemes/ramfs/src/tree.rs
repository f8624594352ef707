//! The inode table: directories, files and the control files, by inode
//! number, and the links between them.
//!
//! Every node but the root is linked into one directory under one name
//! (there are no hard links) until it is removed; a removed node lives on
//! while handles are open on it or its pages are lent (pinned) to
//! mappings, as POSIX wants, and is freed when the last goes
//! ([`Tree::take_if_unused`]). Inode numbers are never reused.
//!
//! **Listing order and opaque ids.** Each directory gives every entry a
//! cookie when it is linked, from a counter that only grows; `getdents`
//! walks entries in cookie order and its opaque id is the next cookie to
//! return. So a listing read in several calls returns every entry that
//! stays in place exactly once, whatever is added or removed meanwhile
//! (new entries come last). Cookies 0 and 1 are `.` and `..`.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use tessera_runtime::abi::error::{ENOENT, ENOTDIR};
use tessera_runtime::{Error, Result};

use crate::data::FileData;
use crate::path::Last;

/// An inode number.
pub type Ino = u64;
/// The root directory's.
pub const ROOT: Ino = 1;
/// The opaque id of `..` in a listing (`.` is 0).
pub const DOTDOT_COOKIE: u64 = 1;
/// The first entry's opaque id.
pub const FIRST_COOKIE: u64 = 2;

/// What a node is.
pub enum Kind {
    Dir(Dir),
    File(FileData),
    /// `/.ramfs/pins`: read-only text, the pinned files.
    Pins,
    /// `/.ramfs/ctl`: write-only, test knobs.
    Ctl,
}

/// A node.
pub struct Node {
    pub kind: Kind,
    /// Its directory and name; `None` for the root and removed nodes.
    pub link: Option<(Ino, String)>,
    /// Handles open on it.
    pub open: usize,
    /// File pages lent to mappings (fmap), counted per mapping request.
    pub pins: u64,
    /// Test knob: write-back (munmap with NEEDS_SYNC, msync) fails with EIO.
    pub fail_writeback: bool,
    /// Part of `/.ramfs/`: not listed at the root, never removed or renamed.
    pub reserved: bool,
    /// Record locks (`fcntl` F_SETLK) on it; they go with the node.
    pub locks: tessera_runtime::locks::LockTable,
}

impl Node {
    pub fn new(kind: Kind) -> Self {
        Self { kind, link: None, open: 0, pins: 0, fail_writeback: false, reserved: false, locks: Default::default() }
    }

    pub fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir(_))
    }
}

/// A directory's entries.
pub struct Dir {
    /// Name → cookie.
    names: BTreeMap<String, u64>,
    /// Cookie → (name, node), in listing order.
    entries: BTreeMap<u64, (String, Ino)>,
    next_cookie: u64,
}

impl Default for Dir {
    fn default() -> Self {
        Self { names: BTreeMap::new(), entries: BTreeMap::new(), next_cookie: FIRST_COOKIE }
    }
}

impl Dir {
    /// The node named `name`.
    pub fn get(&self, name: &str) -> Option<Ino> {
        self.names.get(name).map(|cookie| self.entries[cookie].1)
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The entries from cookie `from` on: (cookie, name, node).
    pub fn from(&self, from: u64) -> impl Iterator<Item = (u64, &str, Ino)> {
        self.entries.range(from..).map(|(&cookie, (name, ino))| (cookie, name.as_str(), *ino))
    }

    /// The nodes it holds.
    pub fn children(&self) -> impl Iterator<Item = Ino> + '_ {
        self.entries.values().map(|(_, ino)| *ino)
    }

    fn insert(&mut self, name: &str, ino: Ino) {
        let cookie = self.next_cookie;
        self.next_cookie += 1;
        self.names.insert(name.into(), cookie);
        self.entries.insert(cookie, (name.into(), ino));
    }

    fn remove(&mut self, name: &str) -> Option<Ino> {
        let cookie = self.names.remove(name)?;
        self.entries.remove(&cookie).map(|(_, ino)| ino)
    }
}

/// All nodes.
pub struct Tree {
    nodes: BTreeMap<Ino, Node>,
    next_ino: Ino,
}

impl Default for Tree {
    fn default() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(ROOT, Node::new(Kind::Dir(Dir::default())));
        Self { nodes, next_ino: ROOT + 1 }
    }
}

impl Tree {
    pub fn node(&self, ino: Ino) -> Option<&Node> {
        self.nodes.get(&ino)
    }

    pub fn node_mut(&mut self, ino: Ino) -> Option<&mut Node> {
        self.nodes.get_mut(&ino)
    }

    /// Every node, by inode number.
    pub fn nodes(&self) -> impl Iterator<Item = (Ino, &Node)> {
        self.nodes.iter().map(|(&ino, node)| (ino, node))
    }

    /// The directory `ino`. ENOTDIR if it is something else, ENOENT if gone.
    pub fn dir(&self, ino: Ino) -> Result<&Dir> {
        match self.nodes.get(&ino).map(|n| &n.kind) {
            Some(Kind::Dir(dir)) => Ok(dir),
            Some(_) => Err(Error::new(ENOTDIR)),
            None => Err(Error::new(ENOENT)),
        }
    }

    fn dir_mut(&mut self, ino: Ino) -> &mut Dir {
        match self.nodes.get_mut(&ino).map(|n| &mut n.kind) {
            Some(Kind::Dir(dir)) => dir,
            _ => panic!("node {ino} is not a directory"),
        }
    }

    /// The directory holding `ino` (the root's is the root; a removed
    /// node's is itself).
    pub fn parent(&self, ino: Ino) -> Ino {
        self.nodes.get(&ino).and_then(|n| n.link.as_ref()).map_or(ino, |(parent, _)| *parent)
    }

    /// Adds an unlinked node; its number.
    pub fn add(&mut self, node: Node) -> Ino {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(ino, node);
        ino
    }

    /// Links `ino` (unlinked) into directory `dir` (without `name`) as `name`.
    pub fn link(&mut self, dir: Ino, name: &str, ino: Ino) {
        debug_assert!(self.dir(dir).is_ok_and(|d| d.get(name).is_none()));
        self.dir_mut(dir).insert(name, ino);
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.link = Some((dir, name.into()));
        }
    }

    /// Removes the entry `name` of `dir`; the node it named (now
    /// unlinked, still there).
    pub fn unlink(&mut self, dir: Ino, name: &str) -> Option<Ino> {
        let ino = self.dir_mut(dir).remove(name)?;
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.link = None;
        }
        Some(ino)
    }

    /// Walks `components` from the root (`.` stays, `..` goes up) to a
    /// directory. ENOENT a missing name, ENOTDIR a name that is not a
    /// directory.
    pub fn walk(&self, components: &[&str]) -> Result<Ino> {
        let mut at = ROOT;
        for &component in components {
            at = self.step(at, component_last(component))?.ok_or(Error::new(ENOENT))?;
            self.dir(at)?;
        }
        Ok(at)
    }

    /// What `last` names relative to directory `dir`: `Ok(None)` for a
    /// name not there. ENOTDIR if `dir` is not a directory.
    pub fn step(&self, dir: Ino, last: Last<'_>) -> Result<Option<Ino>> {
        let entries = self.dir(dir)?;
        Ok(match last {
            Last::Root => Some(ROOT),
            Last::Dot => Some(dir),
            Last::DotDot => Some(self.parent(dir)),
            Last::Name(name) => entries.get(name),
        })
    }

    /// Whether `a` is `b` or one of the directories above it.
    pub fn is_ancestor(&self, a: Ino, b: Ino) -> bool {
        let mut at = b;
        loop {
            if at == a {
                return true;
            }
            let up = self.parent(at);
            if up == at {
                return false;
            }
            at = up;
        }
    }

    /// `/a/b` for a linked node (`/` for the root); `None` once removed
    /// (or under a removed directory).
    pub fn path_of(&self, ino: Ino) -> Option<String> {
        let mut names: Vec<&str> = Vec::new();
        let mut at = ino;
        while at != ROOT {
            let (parent, name) = self.nodes.get(&at)?.link.as_ref()?;
            names.push(name);
            at = *parent;
        }
        let mut path = String::new();
        for name in names.iter().rev() {
            path.push('/');
            path.push_str(name);
        }
        if path.is_empty() {
            path.push('/');
        }
        Some(path)
    }

    /// Takes node `ino` out of the table if nothing keeps it: removed, no
    /// handle open, no page lent (never the root). The caller frees what
    /// it holds.
    pub fn take_if_unused(&mut self, ino: Ino) -> Option<Node> {
        let node = self.nodes.get(&ino)?;
        if ino == ROOT || node.link.is_some() || node.open > 0 || node.pins > 0 {
            return None;
        }
        self.nodes.remove(&ino)
    }
}

/// A walked component as a [`Last`].
fn component_last(component: &str) -> Last<'_> {
    match component {
        "." => Last::Dot,
        ".." => Last::DotDot,
        name => Last::Name(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkdir(tree: &mut Tree, dir: Ino, name: &str) -> Ino {
        let ino = tree.add(Node::new(Kind::Dir(Dir::default())));
        tree.link(dir, name, ino);
        ino
    }

    #[test]
    fn walking_and_paths() {
        let mut tree = Tree::default();
        let a = mkdir(&mut tree, ROOT, "a");
        let b = mkdir(&mut tree, a, "b");
        let file = tree.add(Node::new(Kind::Pins));
        tree.link(b, "f", file);
        assert_eq!(tree.walk(&["a", "b"]), Ok(b));
        assert_eq!(tree.walk(&["a", ".", "b", "..", "..", "..", "a"]), Ok(a), "`..` stops at the root");
        assert_eq!(tree.walk(&["a", "b", "f"]), Err(Error::new(ENOTDIR)));
        assert_eq!(tree.walk(&["a", "x"]), Err(Error::new(ENOENT)));
        assert_eq!(tree.path_of(file).as_deref(), Some("/a/b/f"));
        assert_eq!(tree.path_of(ROOT).as_deref(), Some("/"));
        assert!(tree.is_ancestor(a, file) && tree.is_ancestor(ROOT, b) && !tree.is_ancestor(b, a));
        assert_eq!(tree.step(b, Last::DotDot), Ok(Some(a)));
        assert_eq!(tree.step(file, Last::Dot), Err(Error::new(ENOTDIR)));
    }

    #[test]
    fn cookies_keep_their_place() {
        let mut tree = Tree::default();
        for name in ["x", "y", "z"] {
            mkdir(&mut tree, ROOT, name);
        }
        let listing = |tree: &Tree, from| {
            tree.dir(ROOT).unwrap().from(from).map(|(c, n, _)| (c, String::from(n))).collect::<Vec<_>>()
        };
        assert_eq!(listing(&tree, FIRST_COOKIE + 1), [(3, "y".into()), (4, "z".into())]);
        let y = tree.unlink(ROOT, "y").unwrap();
        tree.link(ROOT, "y2", y);
        assert_eq!(listing(&tree, FIRST_COOKIE + 1), [(4, "z".into()), (5, "y2".into())], "a renamed entry comes last");
        assert_eq!(tree.path_of(y).as_deref(), Some("/y2"));
    }

    #[test]
    fn removed_nodes_wait_for_their_users() {
        let mut tree = Tree::default();
        let d = mkdir(&mut tree, ROOT, "d");
        tree.node_mut(d).unwrap().open = 1;
        assert!(tree.take_if_unused(d).is_none(), "still linked");
        tree.unlink(ROOT, "d");
        assert_eq!(tree.path_of(d), None);
        assert!(tree.take_if_unused(d).is_none(), "still open");
        tree.node_mut(d).unwrap().open = 0;
        tree.node_mut(d).unwrap().pins = 2;
        assert!(tree.take_if_unused(d).is_none(), "still pinned");
        tree.node_mut(d).unwrap().pins = 0;
        assert!(tree.take_if_unused(d).is_some());
        assert!(tree.take_if_unused(ROOT).is_none());
    }
}
