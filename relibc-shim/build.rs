//! Build-time check that the C headers in `include/` carry the values
//! the library and kernel use: every errno (named as tessera-sys's errno
//! table names them), `O_*`, `F_*`, `SEEK_*`, `CLOCK_*`, `S_IF*`, signal,
//! `WNOHANG` and `DT_*` constant is compared with `tessera-abi`, and every
//! `<sys/mman.h>` name (`PROT_*`, `MAP_*`, `MS_*`, `MADV_*`, `MREMAP_*`)
//! with Linux's value in `src/linux_mman.rs` (mmap, mprotect and mremap
//! translate those to the kernel's flags). The build fails on any
//! difference or on a constant missing from the headers.

use std::collections::BTreeMap;
use std::path::Path;

use tessera_abi::dirent::DirentKind;
use tessera_abi::flag::*;
use tessera_abi::signal::*;

#[allow(dead_code)]
#[path = "src/linux_mman.rs"]
mod linux_mman;

/// `#define NAME VALUE` lines whose value is an integer literal.
fn defines(dir: &Path, out: &mut BTreeMap<String, i64>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("include dir").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            defines(&path, out);
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).expect("header");
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("#define") {
                continue;
            }
            let (Some(name), Some(value)) = (words.next(), words.next()) else { continue };
            if let Some(v) = literal(value) {
                out.insert(name.to_owned(), v);
            }
        }
    }
}

/// The value of a C integer literal (decimal, `0x` hex, `0` octal, `U`/`L`
/// suffixes, in parentheses, possibly negative).
fn literal(text: &str) -> Option<i64> {
    let text = text.trim_start_matches('(').trim_end_matches(')');
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let text = text.trim_end_matches(['U', 'L', 'u', 'l']);
    let value = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()?
    } else if text.len() > 1 && text.starts_with('0') {
        i64::from_str_radix(&text[1..], 8).ok()?
    } else {
        text.parse().ok()?
    };
    Some(if negative { -value } else { value })
}

fn main() {
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    println!("cargo:rerun-if-changed=build.rs");
    let mut found = BTreeMap::new();
    defines(&include, &mut found);

    let mut expected: Vec<(&str, i64)> = vec![
        ("O_RDONLY", O_RDONLY as i64),
        ("O_WRONLY", O_WRONLY as i64),
        ("O_RDWR", O_RDWR as i64),
        ("O_ACCMODE", O_ACCMODE as i64),
        ("O_NONBLOCK", O_NONBLOCK as i64),
        ("O_APPEND", O_APPEND as i64),
        ("O_SHLOCK", O_SHLOCK as i64),
        ("O_EXLOCK", O_EXLOCK as i64),
        ("O_ASYNC", O_ASYNC as i64),
        ("O_FSYNC", O_FSYNC as i64),
        ("O_CREAT", O_CREAT as i64),
        ("O_TRUNC", O_TRUNC as i64),
        ("O_EXCL", O_EXCL as i64),
        ("O_DIRECTORY", O_DIRECTORY as i64),
        ("O_STAT", O_STAT as i64),
        ("O_SYMLINK", O_SYMLINK as i64),
        ("O_NOFOLLOW", O_NOFOLLOW as i64),
        ("O_CLOEXEC", tessera_abi::O_CLOEXEC as i64),
        ("FD_CLOEXEC", tessera_abi::FD_CLOEXEC as i64),
        ("F_DUPFD", F_DUPFD as i64),
        ("F_GETFD", F_GETFD as i64),
        ("F_SETFD", F_SETFD as i64),
        ("F_GETFL", F_GETFL as i64),
        ("F_SETFL", F_SETFL as i64),
        ("AT_REMOVEDIR", AT_REMOVEDIR as i64),
        ("SEEK_SET", SEEK_SET as i64),
        ("SEEK_CUR", SEEK_CUR as i64),
        ("SEEK_END", SEEK_END as i64),
        ("CLOCK_REALTIME", CLOCK_REALTIME as i64),
        ("CLOCK_MONOTONIC", CLOCK_MONOTONIC as i64),
        ("S_IFMT", MODE_TYPE as i64),
        ("S_IFDIR", MODE_DIR as i64),
        ("S_IFREG", MODE_FILE as i64),
        ("S_IFLNK", MODE_SYMLINK as i64),
        ("S_IFIFO", MODE_FIFO as i64),
        ("S_IFCHR", MODE_CHR as i64),
        ("S_IFSOCK", MODE_SOCK as i64),
        ("SIGHUP", SIGHUP as i64),
        ("SIGINT", SIGINT as i64),
        ("SIGQUIT", SIGQUIT as i64),
        ("SIGILL", SIGILL as i64),
        ("SIGTRAP", SIGTRAP as i64),
        ("SIGABRT", SIGABRT as i64),
        ("SIGBUS", SIGBUS as i64),
        ("SIGFPE", SIGFPE as i64),
        ("SIGKILL", SIGKILL as i64),
        ("SIGSEGV", SIGSEGV as i64),
        ("SIGPIPE", SIGPIPE as i64),
        ("SIGTERM", SIGTERM as i64),
        ("SIGCHLD", SIGCHLD as i64),
        ("NSIG", NSIG as i64),
        ("WNOHANG", tessera_abi::WNOHANG as i64),
        ("DT_UNKNOWN", DirentKind::Unspecified as i64),
        ("DT_CHR", DirentKind::CharDev as i64),
        ("DT_DIR", DirentKind::Directory as i64),
        ("DT_BLK", DirentKind::BlockDev as i64),
        ("DT_REG", DirentKind::Regular as i64),
        ("DT_LNK", DirentKind::Symlink as i64),
        ("DT_SOCK", DirentKind::Socket as i64),
    ];
    // The mm names carry Linux's values (mm.rs translates them).
    expected.extend(linux_mman::NAMES.iter().copied());
    // Every errno, by the names of the one errno table (tessera-sys).
    expected.extend(tessera_sys::errno::ALL.iter().map(|e| (e.name, e.value as i64)));
    expected.sort();

    let mut wrong = Vec::new();
    for (name, value) in &expected {
        match found.get(*name) {
            Some(v) if v == value => {}
            Some(v) => wrong.push(format!("{name} is {v} in the headers, {value} in tessera-abi")),
            None => wrong.push(format!("{name} ({value}) is missing from the headers")),
        }
    }
    if !wrong.is_empty() {
        panic!("relibc-shim headers disagree with tessera-abi:\n  {}", wrong.join("\n  "));
    }
}
