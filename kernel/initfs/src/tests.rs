//! Host tests: builder → reader round trips, every parse rule, and a
//! fuzz-style test that damaged archives are rejected or read without panics.

use crate::format::{ENTRY_SIZE, HEADER_SIZE, RawEntry, RawHeader};
use crate::*;

fn sample() -> Vec<u8> {
    let mut b = Builder::new();
    b.add_file("bin/init", b"\x7fELF init".to_vec(), 0o755).unwrap();
    b.add_file("bin/hello", vec![0xAB; 5000], 0o755).unwrap();
    b.add_file("etc/init.rc", b"testrunner\n".to_vec(), 0o644).unwrap();
    b.add_file("etc/empty", Vec::new(), 0o644).unwrap();
    b.add_file("a.txt", b"dot sorts before slash".to_vec(), 0o600).unwrap();
    b.add_file("a/b/c", b"deep".to_vec(), 0o644).unwrap();
    b.add_file("a-b/x", b"dash".to_vec(), 0o644).unwrap();
    b.add_dir("var/empty", 0o700).unwrap();
    b.build()
}

fn names<'a>(it: impl Iterator<Item = Entry<'a>>) -> Vec<&'a str> {
    it.map(|e| e.path).collect()
}

#[test]
fn round_trip() {
    let bytes = sample();
    assert_eq!(bytes.len() % PAGE_SIZE, 0);
    let fs = InitFs::parse(&bytes).unwrap();
    assert_eq!(fs.total_size_bytes(), bytes.len());

    let hello = fs.get("bin/hello").unwrap();
    assert_eq!((hello.kind, hello.mode, hello.data), (Kind::File, 0o755, &[0xAB; 5000][..]));
    assert_eq!(hello.data_offset % PAGE_SIZE, 0);
    assert_eq!(hello.name(), "hello");
    assert_eq!(&bytes[hello.data_offset..hello.data_offset + hello.data.len()], hello.data);
    // The rest of the file's last page is zero.
    assert!(bytes[hello.data_offset + 5000..hello.data_offset + 2 * PAGE_SIZE].iter().all(|&b| b == 0));

    assert_eq!(fs.get("etc/init.rc").unwrap().data, b"testrunner\n");
    assert_eq!(fs.get("etc/empty").unwrap().data, b"");
    assert_eq!(fs.get("a.txt").unwrap().mode, 0o600);
    let var_empty = fs.get("var/empty").unwrap();
    assert_eq!((var_empty.kind, var_empty.mode), (Kind::Directory, 0o700));
    let implied = fs.get("a/b").unwrap();
    assert_eq!((implied.kind, implied.mode, implied.data), (Kind::Directory, 0o755, &[][..]));
    for missing in ["", "bin/", "/bin/init", "bin/init/x", "nope", "bi", "bin/initx"] {
        assert!(fs.get(missing).is_none(), "{missing:?}");
    }

    let all = names(fs.entries());
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
    assert_eq!(all.len(), fs.len());
    assert_eq!(fs.entries().count(), 14);
}

#[test]
fn file_data_is_page_aligned_and_in_order() {
    let bytes = sample();
    let fs = InitFs::parse(&bytes).unwrap();
    let mut last_end = 0;
    for entry in fs.entries().filter(|e| !e.data.is_empty()) {
        assert_eq!(entry.data_offset % PAGE_SIZE, 0, "{}", entry.path);
        assert!(entry.data_offset >= last_end);
        last_end = entry.data_offset + entry.data.len();
    }
}

#[test]
fn children() {
    let bytes = sample();
    let fs = InitFs::parse(&bytes).unwrap();
    assert_eq!(names(fs.children("").unwrap()), ["a", "a-b", "a.txt", "bin", "etc", "var"]);
    assert_eq!(names(fs.children("a").unwrap()), ["a/b"]);
    assert_eq!(names(fs.children("a/b").unwrap()), ["a/b/c"]);
    assert_eq!(names(fs.children("bin").unwrap()), ["bin/hello", "bin/init"]);
    assert_eq!(names(fs.children("etc").unwrap()), ["etc/empty", "etc/init.rc"]);
    assert_eq!(names(fs.children("var/empty").unwrap()), Vec::<&str>::new());
    assert!(fs.children("bin/init").is_none(), "a file has no children");
    assert!(fs.children("nope").is_none());
    assert!(fs.children("a/").is_none());
}

#[test]
fn empty_archive() {
    let bytes = Builder::new().build();
    assert_eq!(bytes.len(), PAGE_SIZE);
    let fs = InitFs::parse(&bytes).unwrap();
    assert!(fs.is_empty());
    assert_eq!(fs.children("").unwrap().count(), 0);
    assert!(fs.get("x").is_none());
}

#[test]
fn build_is_deterministic_and_order_independent() {
    let mut a = Builder::new();
    a.add_file("x/2", b"two".to_vec(), 0o644).unwrap().add_file("x/1", b"one".to_vec(), 0o644).unwrap();
    let mut b = Builder::new();
    b.add_file("x/1", b"one".to_vec(), 0o644).unwrap().add_file("x/2", b"two".to_vec(), 0o644).unwrap();
    assert_eq!(a.build(), b.build());
}

#[test]
fn builder_rejects_bad_input() {
    let mut b = Builder::new();
    for bad in ["", "/abs", "trailing/", "a//b", "./a", "a/../b", "a/.", "nul\0"] {
        assert!(matches!(b.add_file(bad, Vec::new(), 0o644), Err(BuildError::InvalidPath { .. })), "{bad:?}");
    }
    b.add_file("f", b"x".to_vec(), 0o644).unwrap();
    assert!(matches!(b.add_file("f", Vec::new(), 0o644), Err(BuildError::AlreadyExists { .. })));
    assert!(matches!(b.add_dir("f", 0o755), Err(BuildError::AlreadyExists { .. })));
    assert!(matches!(b.add_file("f/g", Vec::new(), 0o644), Err(BuildError::ParentIsFile { .. })));
    assert!(matches!(b.add_file("g", Vec::new(), 0o10000), Err(BuildError::BadMode { .. })));
    b.add_file("d/x", Vec::new(), 0o644).unwrap();
    assert!(matches!(b.add_file("d", Vec::new(), 0o644), Err(BuildError::AlreadyExists { .. })));
    b.add_dir("d", 0o700).unwrap();
    let bytes = b.build();
    assert_eq!(InitFs::parse(&bytes).unwrap().get("d").unwrap().mode, 0o700);
}

#[test]
fn validate_path_rules() {
    assert_eq!(validate_path("a/b.c/d"), Ok(()));
    assert_eq!(validate_path("..."), Ok(()));
    assert_eq!(validate_path(""), Err(PathError::Empty));
    assert_eq!(validate_path("/a"), Err(PathError::LeadingSlash));
    assert_eq!(validate_path("a/"), Err(PathError::TrailingSlash));
    assert_eq!(validate_path("a//b"), Err(PathError::EmptyComponent));
    assert_eq!(validate_path("a/.."), Err(PathError::DotComponent));
    assert_eq!(validate_path("a\0"), Err(PathError::Nul));
}

// ---- the parse rules, each broken on purpose ------------------------------

fn header(bytes: &[u8]) -> RawHeader {
    RawHeader::decode(bytes[..HEADER_SIZE].try_into().unwrap())
}

fn set_header(bytes: &mut [u8], edit: impl FnOnce(&mut RawHeader)) {
    let mut h = header(bytes);
    edit(&mut h);
    bytes[..HEADER_SIZE].copy_from_slice(&h.encode());
}

fn entry_at(bytes: &[u8], index: usize) -> RawEntry {
    let at = HEADER_SIZE + index * ENTRY_SIZE;
    RawEntry::decode(bytes[at..at + ENTRY_SIZE].try_into().unwrap())
}

fn set_entry(bytes: &mut [u8], index: usize, edit: impl FnOnce(&mut RawEntry)) {
    let mut e = entry_at(bytes, index);
    edit(&mut e);
    let at = HEADER_SIZE + index * ENTRY_SIZE;
    bytes[at..at + ENTRY_SIZE].copy_from_slice(&e.encode());
}

fn index_of(bytes: &[u8], path: &str) -> usize {
    InitFs::parse(bytes).unwrap().entries().position(|e| e.path == path).unwrap()
}

fn entry_problem(bytes: &[u8]) -> EntryProblem {
    match InitFs::parse(bytes) {
        Err(ParseError::Entry { problem, .. }) => problem,
        other => panic!("expected an entry error, got {other:?}"),
    }
}

#[test]
fn header_rules() {
    let good = sample();
    assert!(matches!(InitFs::parse(&good[..10]), Err(ParseError::Truncated { .. })));
    assert!(matches!(InitFs::parse(&good[..good.len() - 1]), Err(ParseError::Truncated { .. })));
    let mut longer = good.clone();
    longer.extend_from_slice(&[0xFF; 100]);
    assert_eq!(InitFs::parse(&longer).unwrap().total_size_bytes(), good.len(), "trailing bytes are ignored");

    let mut bad = good.clone();
    bad[0] = b'X';
    assert_eq!(InitFs::parse(&bad).unwrap_err(), ParseError::BadMagic);
    let mut bad = good.clone();
    set_header(&mut bad, |h| h.version = 2);
    assert_eq!(InitFs::parse(&bad).unwrap_err(), ParseError::UnsupportedVersion(2));
    let mut bad = good.clone();
    set_header(&mut bad, |h| h.reserved = 1);
    assert_eq!(InitFs::parse(&bad).unwrap_err(), ParseError::HeaderReservedNotZero);
    let mut bad = good.clone();
    set_header(&mut bad, |h| h.total_size_bytes -= 1);
    assert!(matches!(InitFs::parse(&bad), Err(ParseError::BadTotalSize(_))));
    let mut bad = good.clone();
    set_header(&mut bad, |h| h.entry_count = u32::MAX);
    assert!(matches!(InitFs::parse(&bad), Err(ParseError::BadTotalSize(_))));
    let mut bad = good.clone();
    set_header(&mut bad, |h| h.total_size_bytes = !0xFFF);
    assert!(matches!(InitFs::parse(&bad), Err(ParseError::Truncated { .. } | ParseError::BadTotalSize(_))));
}

/// Breaks one rule in a copy of a valid archive.
type Damage = dyn Fn(&mut Vec<u8>);

#[test]
fn entry_rules() {
    let good = sample();
    let hello = index_of(&good, "bin/hello");
    let init = index_of(&good, "bin/init");
    let bin = index_of(&good, "bin");
    let empty = index_of(&good, "etc/empty");

    let cases: Vec<(Box<Damage>, EntryProblem)> = vec![
        (Box::new(|b| set_entry(b, 0, |e| e.reserved = 1)), EntryProblem::ReservedNotZero),
        (Box::new(|b| set_entry(b, 0, |e| e.kind = 3)), EntryProblem::BadKind(3)),
        (Box::new(|b| set_entry(b, 0, |e| e.mode = 0o17777)), EntryProblem::BadMode(0o17777)),
        (Box::new(|b| set_entry(b, 0, |e| e.path_offset = u32::MAX)), EntryProblem::PathOutOfBounds),
        (Box::new(|b| set_entry(b, 0, |e| e.path_len = 0)), EntryProblem::InvalidPath(PathError::Empty)),
        // Swapping two records breaks the order.
        (
            Box::new(move |b| {
                let (x, y) = (entry_at(b, hello), entry_at(b, init));
                set_entry(b, hello, |e| *e = y);
                set_entry(b, init, |e| *e = x);
            }),
            EntryProblem::NotSorted,
        ),
        (
            Box::new(move |b| {
                let x = entry_at(b, hello);
                set_entry(b, init, |e| *e = x);
            }),
            EntryProblem::Duplicate,
        ),
        (Box::new(move |b| set_entry(b, bin, |e| e.kind = 1)), EntryProblem::MissingParent),
        (Box::new(move |b| set_entry(b, bin, |e| e.data_len = 1)), EntryProblem::UnexpectedData),
        (Box::new(move |b| set_entry(b, empty, |e| e.data_offset = 4096)), EntryProblem::UnexpectedData),
        (Box::new(move |b| set_entry(b, hello, |e| e.data_offset += 1)), EntryProblem::DataMisaligned),
        (Box::new(move |b| set_entry(b, hello, |e| e.data_offset = 0)), EntryProblem::DataOverlaps),
        (Box::new(move |b| set_entry(b, init, |e| e.data_offset -= 4096)), EntryProblem::DataOverlaps),
        (Box::new(move |b| set_entry(b, hello, |e| e.data_len = u64::MAX)), EntryProblem::DataOutOfBounds),
        (
            Box::new(move |b| {
                let e = entry_at(b, hello);
                b[(e.data_offset + e.data_len) as usize] = 1;
            }),
            EntryProblem::NonZeroPadding,
        ),
    ];
    for (i, (damage, expected)) in cases.iter().enumerate() {
        let mut bytes = good.clone();
        damage(&mut bytes);
        assert_eq!(entry_problem(&bytes), *expected, "case {i}");
    }

    // A path that is not UTF-8: overwrite the first path byte of "a".
    let mut bytes = good.clone();
    let e = entry_at(&bytes, 0);
    let strings_start = HEADER_SIZE + header(&bytes).entry_count as usize * ENTRY_SIZE;
    bytes[strings_start + e.path_offset as usize] = 0xFF;
    assert_eq!(entry_problem(&bytes), EntryProblem::PathNotUtf8);
}

// ---- fuzz-ish: damage never panics ----------------------------------------

/// xorshift64*: a small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Uses everything a parsed archive offers; must not panic.
fn exercise(fs: &InitFs<'_>) {
    let mut n = 0;
    for entry in fs.entries() {
        n += 1;
        assert_eq!(fs.get(entry.path).map(|e| e.path), Some(entry.path));
        let _ = entry.name();
        if entry.kind == Kind::Directory {
            for child in fs.children(entry.path).unwrap() {
                assert!(child.path.starts_with(entry.path));
            }
        }
    }
    assert_eq!(n, fs.len());
    let _ = fs.children("").map(Iterator::count);
    let _ = fs.get("bin/init");
}

#[test]
fn damaged_archives_never_panic() {
    let good = sample();
    let metadata_len = {
        let h = header(&good);
        HEADER_SIZE + h.entry_count as usize * ENTRY_SIZE + h.strings_len_bytes as usize
    };
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let mut bytes = good.clone();
        for _ in 0..1 + rng.below(4) {
            // Mostly the metadata, where damage matters; sometimes anywhere.
            let at = if rng.below(4) == 0 { rng.below(bytes.len()) } else { rng.below(metadata_len) };
            match rng.below(3) {
                0 => bytes[at] ^= 1 << rng.below(8),
                1 => bytes[at] = rng.next() as u8,
                _ => bytes[at] = [0, 0xFF, 0x10, 0x2F][rng.below(4)],
            }
        }
        if rng.below(8) == 0 {
            bytes.truncate(rng.below(bytes.len() + 1));
        }
        if let Ok(fs) = InitFs::parse(&bytes) {
            accepted += 1;
            exercise(&fs);
        }
    }
    // Most damage lands in checked fields; some (mode bits, path letters) is
    // legitimately still a valid archive.
    assert!(accepted < 20_000);

    for len in 0..=good.len() {
        if let Ok(fs) = InitFs::parse(&good[..len]) {
            assert_eq!(len, good.len());
            exercise(&fs);
        }
    }
    for _ in 0..2_000 {
        let garbage: Vec<u8> = (0..rng.below(9000)).map(|_| rng.next() as u8).collect();
        let mut with_magic = garbage.clone();
        if with_magic.len() >= 8 {
            with_magic[..8].copy_from_slice(&MAGIC);
        }
        for bytes in [garbage, with_magic] {
            if let Ok(fs) = InitFs::parse(&bytes) {
                exercise(&fs);
            }
        }
    }
}

// ---- from_dir --------------------------------------------------------------

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tessera-initfs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn from_dir_packs_a_tree() {
    let tmp = TempDir::new("tree");
    let root = &tmp.0;
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("etc/empty.d")).unwrap();
    std::fs::write(root.join("bin/init"), b"init program").unwrap();
    std::fs::write(root.join("etc/init.rc"), b"testrunner\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.join("bin/init"), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(root.join("etc/init.rc"), std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    let bytes = Builder::from_dir(root).unwrap().build();
    let fs = InitFs::parse(&bytes).unwrap();
    assert_eq!(names(fs.entries()), ["bin", "bin/init", "etc", "etc/empty.d", "etc/init.rc"]);
    assert_eq!(fs.get("bin/init").unwrap().data, b"init program");
    assert_eq!(fs.get("etc/empty.d").unwrap().kind, Kind::Directory);
    #[cfg(unix)]
    {
        assert_eq!(fs.get("bin/init").unwrap().mode, 0o755);
        assert_eq!(fs.get("etc/init.rc").unwrap().mode, 0o644);
    }
    assert_eq!(Builder::from_dir(root).unwrap().build(), bytes, "deterministic");
}

#[cfg(unix)]
#[test]
fn from_dir_rejects_symlinks() {
    let tmp = TempDir::new("symlink");
    std::fs::write(tmp.0.join("target"), b"x").unwrap();
    std::os::unix::fs::symlink("target", tmp.0.join("link")).unwrap();
    let err = Builder::from_dir(&tmp.0).unwrap_err();
    assert!(matches!(err, BuildError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("symbolic link"));
}

#[test]
fn from_dir_reports_a_missing_directory() {
    let err = Builder::from_dir("/nonexistent/tessera-initfs").unwrap_err();
    assert!(matches!(err, BuildError::Io { .. }));
    assert!(err.to_string().starts_with("/nonexistent/tessera-initfs: "), "{err}");
}
