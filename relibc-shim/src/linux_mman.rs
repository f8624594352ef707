//! Linux's `<sys/mman.h>` values (asm-generic; the same on x86_64 and
//! aarch64), which `include/sys/mman.h` carries and `mm.rs` translates to
//! the kernel's `MapFlags`. Plain constants with no dependencies: build.rs
//! reads this file too and checks the header against [`NAMES`].

pub const PROT_READ: i32 = 0x1;
pub const PROT_WRITE: i32 = 0x2;
pub const PROT_EXEC: i32 = 0x4;
/// Accepted and ignored by Linux's mprotect on x86_64 and aarch64; glibc
/// does not name it.
pub const PROT_SEM: i32 = 0x8;
pub const PROT_GROWSDOWN: i32 = 0x0100_0000;
pub const PROT_GROWSUP: i32 = 0x0200_0000;

pub const MAP_SHARED: i32 = 0x01;
pub const MAP_PRIVATE: i32 = 0x02;
pub const MAP_SHARED_VALIDATE: i32 = 0x03;
pub const MAP_TYPE: i32 = 0x0f;
pub const MAP_FIXED: i32 = 0x10;
pub const MAP_ANONYMOUS: i32 = 0x20;
pub const MAP_GROWSDOWN: i32 = 0x0100;
pub const MAP_DENYWRITE: i32 = 0x0800;
pub const MAP_EXECUTABLE: i32 = 0x1000;
pub const MAP_LOCKED: i32 = 0x2000;
pub const MAP_NORESERVE: i32 = 0x4000;
pub const MAP_POPULATE: i32 = 0x8000;
pub const MAP_NONBLOCK: i32 = 0x1_0000;
pub const MAP_STACK: i32 = 0x2_0000;
pub const MAP_HUGETLB: i32 = 0x4_0000;
pub const MAP_SYNC: i32 = 0x8_0000;
pub const MAP_FIXED_NOREPLACE: i32 = 0x10_0000;
/// Not in the header (glibc does not name it): ignored, as Linux does
/// without CONFIG_MMAP_ALLOW_UNINITIALIZED.
pub const MAP_UNINITIALIZED: i32 = 0x400_0000;
/// Linux's LEGACY_MAP_MASK: what MAP_SHARED_VALIDATE accepts (MAP_SYNC
/// only where the file supports it, which no Tessera file does).
pub const MAP_LEGACY_MASK: i32 = MAP_SHARED
    | MAP_PRIVATE
    | MAP_FIXED
    | MAP_ANONYMOUS
    | MAP_DENYWRITE
    | MAP_EXECUTABLE
    | MAP_UNINITIALIZED
    | MAP_GROWSDOWN
    | MAP_LOCKED
    | MAP_NORESERVE
    | MAP_POPULATE
    | MAP_NONBLOCK
    | MAP_STACK
    | MAP_HUGETLB;

pub const MREMAP_MAYMOVE: i32 = 1;
pub const MREMAP_FIXED: i32 = 2;
pub const MREMAP_DONTUNMAP: i32 = 4;

pub const MADV_DONTNEED: i32 = 4;

/// Every integer-literal name of `include/sys/mman.h` with Linux's value.
pub const NAMES: &[(&str, i64)] = &[
    ("PROT_NONE", 0),
    ("PROT_READ", PROT_READ as i64),
    ("PROT_WRITE", PROT_WRITE as i64),
    ("PROT_EXEC", PROT_EXEC as i64),
    ("PROT_GROWSDOWN", PROT_GROWSDOWN as i64),
    ("PROT_GROWSUP", PROT_GROWSUP as i64),
    ("MAP_FILE", 0),
    ("MAP_SHARED", MAP_SHARED as i64),
    ("MAP_PRIVATE", MAP_PRIVATE as i64),
    ("MAP_SHARED_VALIDATE", MAP_SHARED_VALIDATE as i64),
    ("MAP_TYPE", MAP_TYPE as i64),
    ("MAP_FIXED", MAP_FIXED as i64),
    ("MAP_ANONYMOUS", MAP_ANONYMOUS as i64),
    ("MAP_GROWSDOWN", MAP_GROWSDOWN as i64),
    ("MAP_DENYWRITE", MAP_DENYWRITE as i64),
    ("MAP_EXECUTABLE", MAP_EXECUTABLE as i64),
    ("MAP_LOCKED", MAP_LOCKED as i64),
    ("MAP_NORESERVE", MAP_NORESERVE as i64),
    ("MAP_POPULATE", MAP_POPULATE as i64),
    ("MAP_NONBLOCK", MAP_NONBLOCK as i64),
    ("MAP_STACK", MAP_STACK as i64),
    ("MAP_HUGETLB", MAP_HUGETLB as i64),
    ("MAP_SYNC", MAP_SYNC as i64),
    ("MAP_FIXED_NOREPLACE", MAP_FIXED_NOREPLACE as i64),
    ("MAP_HUGE_SHIFT", 26),
    ("MAP_HUGE_MASK", 0x3f),
    ("MS_ASYNC", 1),
    ("MS_INVALIDATE", 2),
    ("MS_SYNC", 4),
    ("MADV_NORMAL", 0),
    ("MADV_RANDOM", 1),
    ("MADV_SEQUENTIAL", 2),
    ("MADV_WILLNEED", 3),
    ("MADV_DONTNEED", MADV_DONTNEED as i64),
    ("MADV_FREE", 8),
    ("MADV_REMOVE", 9),
    ("MADV_DONTFORK", 10),
    ("MADV_DOFORK", 11),
    ("MADV_MERGEABLE", 12),
    ("MADV_UNMERGEABLE", 13),
    ("MADV_HUGEPAGE", 14),
    ("MADV_NOHUGEPAGE", 15),
    ("MADV_DONTDUMP", 16),
    ("MADV_DODUMP", 17),
    ("MADV_WIPEONFORK", 18),
    ("MADV_KEEPONFORK", 19),
    ("MADV_COLD", 20),
    ("MADV_PAGEOUT", 21),
    ("MADV_POPULATE_READ", 22),
    ("MADV_POPULATE_WRITE", 23),
    ("MADV_DONTNEED_LOCKED", 24),
    ("MADV_HWPOISON", 100),
    ("MADV_SOFT_OFFLINE", 101),
    ("MADV_GUARD_INSTALL", 102),
    ("MADV_GUARD_REMOVE", 103),
    ("MREMAP_MAYMOVE", MREMAP_MAYMOVE as i64),
    ("MREMAP_FIXED", MREMAP_FIXED as i64),
    ("MREMAP_DONTUNMAP", MREMAP_DONTUNMAP as i64),
];
