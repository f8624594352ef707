//! `root-fs`: the root filesystem as init mounts it (mk/kernel.mk,
//! docs/redoxfs.md) — `file:` is redoxfsd on the boot disk's TESSERA_ROOT
//! partition, `tmp:` is ramfs.
//!
//! | check | what must hold |
//! |---|---|
//! | file: is redoxfsd | `file:/.redoxfsd/pins` exists (redoxfsd's control directory), `file:/.ramfs` does not |
//! | tmp: is ramfs | `tmp:/.ramfs/pins` exists; `/scheme/tmp/x` is `tmp:x` |
//! | the installer's files | `/tmp` is a directory (the test config's `[[files]]`) |
//! | fmapcheck on the root | `fmapcheck file:/tmp file:/.redoxfsd/pins` exits 0: the fmap kit passes on the root filesystem |
#![no_std]
#![no_main]

extern crate alloc;

use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::flag::{O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR};
use tessera_runtime::{process, sys};

tessera_runtime::entry!(main);

fn exists(path: &str, flags: usize) -> bool {
    match sys::open(path, flags) {
        Ok(fd) => {
            let _ = sys::close(fd);
            true
        }
        Err(_) => false,
    }
}

fn main(_args: tessera_runtime::Args) -> i32 {
    let mut checks = Checks::new("root-fs");
    checks.check(
        "file: is redoxfsd",
        exists("file:/.redoxfsd/pins", O_RDONLY),
        format_args!("no file:/.redoxfsd/pins"),
    );
    checks.check(
        "file: is not ramfs",
        !exists("file:/.ramfs/pins", O_RDONLY),
        format_args!("file:/.ramfs/pins exists"),
    );
    checks.check("tmp: is ramfs", exists("tmp:/.ramfs/pins", O_RDONLY), format_args!("no tmp:/.ramfs/pins"));
    let made = sys::open("/scheme/tmp/root-fs-probe", O_CREAT | O_RDWR);
    checks.check("/scheme/tmp/NAME creates a file of tmp:", made.is_ok(), format_args!("{}", Shown(made)));
    if let Ok(fd) = made {
        let _ = sys::close(fd);
        checks.check("... that tmp:NAME opens", exists("tmp:root-fs-probe", O_RDONLY), format_args!("not there"));
        let _ = sys::unlink("tmp:root-fs-probe");
    }
    checks.check("/tmp is a directory of the root", exists("/tmp", O_RDONLY | O_DIRECTORY), format_args!("no /tmp"));
    let argv = ["fmapcheck", "file:/tmp", "file:/.redoxfsd/pins"];
    let status = process::spawn(&process::program_path("fmapcheck"), &argv, &[]).and_then(process::wait);
    checks.check(
        "fmapcheck passes on the root filesystem",
        matches!(&status, Ok(s) if s.code() == Some(0)),
        format_args!("{status:?}"),
    );
    checks.finish()
}
