//! The model `mm-fuzz` checks the kernel against: per arena page, whether
//! it is mapped, its protection, what backs it and so what it must hold;
//! per memory object (shared anonymous memory, the `memory:` object, the
//! ramfs files) the value of each page.
//!
//! A page's content is one 64-bit value `v`: the page's first word holds
//! `v` and its last word `v.rotate_left(17)`, every other word is zero
//! (never written). A fresh page holds 0. The rules follow docs/mm.md and
//! docs/fmap.md (and Linux): private pages are the process's own, object
//! pages are the object's, a private file page shows the file until it is
//! written, pages past an object's or file's end are SIGBUS.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

/// Pages of the arena every operation stays inside.
pub const ARENA: usize = 128;

/// `PROT_READ` in the model's protection bits.
pub const R: u8 = 1;
/// `PROT_WRITE`.
pub const W: u8 = 2;
/// `PROT_EXEC`.
pub const X: u8 = 4;

/// What backs a mapped page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Backing {
    /// Private anonymous memory holding the value.
    Anon(u64),
    /// Page `idx` of object `obj` (shared anonymous memory or the
    /// `memory:` object), mapped shared.
    Object { obj: u32, idx: usize },
    /// Page `idx` of file `obj` through the mapping `lease` (one mmap call;
    /// its pieces stay one lease). A private page shows the file until
    /// written (`own`). `writable_fd`: the file was opened for writing.
    File { obj: u32, lease: u32, idx: usize, shared: bool, own: Option<u64>, writable_fd: bool },
}

/// A mapped page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MPage {
    pub prot: u8,
    pub backing: Backing,
}

impl MPage {
    /// Whether `next`, the page after this one, is in the same kernel
    /// grant (the kernel merges alike neighbours: same protection and a
    /// provider that continues).
    pub fn continues_into(&self, next: &MPage) -> bool {
        self.prot == next.prot
            && match (self.backing, next.backing) {
                (Backing::Anon(_), Backing::Anon(_)) => true,
                (Backing::Object { obj: a, idx: i }, Backing::Object { obj: b, idx: j }) => a == b && i + 1 == j,
                (Backing::File { lease: a, idx: i, .. }, Backing::File { lease: b, idx: j, .. }) => {
                    a == b && i + 1 == j
                }
                _ => false,
            }
    }

    /// Whether the page is shared with other mappings and processes.
    pub fn is_shared(&self) -> bool {
        match self.backing {
            Backing::Anon(_) => false,
            Backing::Object { .. } => true,
            Backing::File { shared, .. } => shared,
        }
    }

    /// `sys:maps`'s kind word for the page.
    pub fn kind_name(&self) -> &'static str {
        match self.backing {
            Backing::Anon(_) => "anon",
            Backing::Object { .. } => "shared",
            Backing::File { .. } => "fmap",
        }
    }
}

/// What kind of object an [`Obj`] is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ObjKind {
    /// Made by a shared anonymous mmap; forgotten when nothing maps it.
    AnonShared,
    /// The `memory:shared` object.
    Memory,
    /// A ramfs file.
    File,
}

/// An object's pages.
#[derive(Clone, Debug)]
pub struct Obj {
    pub kind: ObjKind,
    /// One value per page; the object's size is `tags.len()` pages.
    pub tags: Vec<u64>,
}

/// What an access to a page must do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    /// Work and see (or, written, leave) this value.
    Value(u64),
    /// Die with SIGSEGV (nothing mapped, or the protection forbids it).
    Segv,
    /// Die with SIGBUS (past the end of the object or file).
    Bus,
}

/// The arena and the objects.
#[derive(Clone)]
pub struct Model {
    pub pages: Vec<Option<MPage>>,
    pub objects: BTreeMap<u32, Obj>,
    next_obj: u32,
    next_lease: u32,
}

impl Model {
    /// The arena all private anonymous read-write zeroes.
    pub fn new() -> Self {
        let page = MPage { prot: R | W, backing: Backing::Anon(0) };
        Self { pages: vec![Some(page); ARENA], objects: BTreeMap::new(), next_obj: 0, next_lease: 0 }
    }

    /// A new object of `kind` with `pages` zero pages; its id.
    pub fn new_object(&mut self, kind: ObjKind, pages: usize) -> u32 {
        self.next_obj += 1;
        self.objects.insert(self.next_obj, Obj { kind, tags: vec![0; pages] });
        self.next_obj
    }

    /// A new lease id (one file mmap).
    pub fn new_lease(&mut self) -> u32 {
        self.next_lease += 1;
        self.next_lease
    }

    /// The value a readable page shows, or Bus past its object's end.
    pub fn content(&self, page: &MPage) -> Access {
        let in_object = |obj: u32, idx: usize| match self.objects.get(&obj).and_then(|o| o.tags.get(idx)) {
            Some(&v) => Access::Value(v),
            None => Access::Bus,
        };
        match page.backing {
            Backing::Anon(v) => Access::Value(v),
            Backing::Object { obj, idx } => in_object(obj, idx),
            Backing::File { obj, idx, own, .. } => match (in_object(obj, idx), own) {
                (Access::Value(_), Some(v)) => Access::Value(v),
                (shown, _) => shown,
            },
        }
    }

    /// What a read (`write` false) or write of arena page `p` must do.
    pub fn access(&self, p: usize, write: bool) -> Access {
        let Some(page) = self.pages[p] else { return Access::Segv };
        let needed = if write { W } else { R };
        if page.prot & needed == 0 {
            return Access::Segv;
        }
        self.content(&page)
    }

    /// Whether page `p` can be written without a fault.
    pub fn writable(&self, p: usize) -> bool {
        matches!(self.access(p, true), Access::Value(_))
    }

    /// The object page behind page `p` if it is shared: `(obj, idx)`.
    pub fn shared_key(&self, p: usize) -> Option<(u32, usize)> {
        match self.pages[p]?.backing {
            Backing::Object { obj, idx } | Backing::File { obj, idx, shared: true, .. } => Some((obj, idx)),
            _ => None,
        }
    }

    /// Records that `v` was written to object page `key` (through some
    /// other process's mapping).
    pub fn write_object(&mut self, (obj, idx): (u32, usize), v: u64) {
        if let Some(tag) = self.objects.get_mut(&obj).and_then(|o| o.tags.get_mut(idx)) {
            *tag = v;
        }
    }

    /// Whether page `q` maps the same object page as page `p` and can be
    /// read (for failure reports).
    pub fn readable_twin(&self, p: usize, q: usize) -> bool {
        self.shared_key(p).is_some()
            && self.shared_key(p) == self.shared_key(q)
            && self.access(q, false) != Access::Segv
    }

    /// Records that `v` was written to page `p` (which must be writable).
    pub fn write(&mut self, p: usize, v: u64) {
        let Some(page) = self.pages[p].as_mut() else { return };
        match &mut page.backing {
            Backing::Anon(value) => *value = v,
            Backing::Object { obj, idx } | Backing::File { obj, idx, shared: true, .. } => {
                if let Some(tag) = self.objects.get_mut(obj).and_then(|o| o.tags.get_mut(*idx)) {
                    *tag = v;
                }
            }
            Backing::File { own, .. } => *own = Some(v),
        }
    }

    /// Whether no page of `[s, e)` is mapped (and the range is inside the
    /// arena: the guards beyond it are mapped).
    pub fn free(&self, s: usize, e: usize) -> bool {
        e <= ARENA && self.pages[s..e].iter().all(Option::is_none)
    }

    /// Whether every page of `[s, e)` is mapped.
    pub fn covered(&self, s: usize, e: usize) -> bool {
        e <= ARENA && self.pages[s..e].iter().all(Option::is_some)
    }

    /// The kernel grant holding page `p`: `[start, end)`.
    pub fn grant_of(&self, p: usize) -> Option<(usize, usize)> {
        self.pages[p]?;
        let mut start = p;
        while start > 0
            && matches!((self.pages[start - 1], self.pages[start]), (Some(a), Some(b)) if a.continues_into(&b))
        {
            start -= 1;
        }
        let mut end = p + 1;
        while end < ARENA
            && matches!((self.pages[end - 1], self.pages[end]), (Some(a), Some(b)) if a.continues_into(&b))
        {
            end += 1;
        }
        Some((start, end))
    }

    /// Ramfs's pins the mapped pages account for: the distinct (lease,
    /// file page) pairs, pages past the end of the file included.
    pub fn pins(&self) -> usize {
        let mut seen: Vec<(u32, usize)> = self
            .pages
            .iter()
            .flatten()
            .filter_map(|p| match p.backing {
                Backing::File { lease, idx, .. } => Some((lease, idx)),
                _ => None,
            })
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }

    /// Forgets shared anonymous objects no page maps any more.
    pub fn forget_unmapped_objects(&mut self) {
        let mut used: Vec<u32> = self
            .pages
            .iter()
            .flatten()
            .filter_map(|p| match p.backing {
                Backing::Object { obj, .. } => Some(obj),
                _ => None,
            })
            .collect();
        used.sort_unstable();
        used.dedup();
        self.objects.retain(|id, o| o.kind != ObjKind::AnonShared || used.binary_search(id).is_ok());
    }
}

/// The two words a page holding `v` has: first and last.
pub fn words(v: u64) -> (u64, u64) {
    (v, v.rotate_left(17))
}

/// `prot` as `rwx` letters.
pub fn prot_name(prot: u8) -> &'static str {
    ["---", "r--", "-w-", "rw-", "--x", "r-x", "-wx", "rwx"][prot as usize & 7]
}
