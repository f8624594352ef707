//! `sys-files`: the `sys:` files that describe other processes and the
//! machine, and the power knob's refusals.
//!
//! | group | checks |
//! |---|---|
//! | maps-of-pid | `sys:maps/PID` of a child shows the mapping it made (address, `rw-p anon`, resident pages) and its stack, and parses like `sys:maps`; `sys:maps/<own pid>` equals `sys:maps`; after the child is reaped ESRCH; a pid never used ESRCH; `sys:maps/abc` ENOENT |
//! | uname | `sys:uname` is one line `Tessera VERSION ARCH` with this arch (VERSION as the boot banner's) |
//! | power | `sys:power` reads empty; this test runs unprivileged (as every test not marked `privileged` in tests.list), so `shutdown`, `reboot`, an unknown command and bytes that are not UTF-8 are all EPERM |
//!
//! (`shutdown` itself ends the run: the power and console tests cover it;
//! `privilege` and `privilege-exec` check the privilege itself.)
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};

use tessera_guest_tests::system::{fork_with, reap};
use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::Result;
use tessera_runtime::abi::error::{ENOENT, EPERM, ESRCH};
use tessera_runtime::abi::flag::{O_RDONLY, O_WRONLY};
use tessera_runtime::mm::{self, MAP_PRIVATE, Maps, PROT_RW};
use tessera_runtime::{Args, io, sys};

tessera_runtime::entry!(main);

const PAGE: usize = 4096;

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("sys-files");
    maps_of_pid(&mut checks);
    uname(&mut checks);
    power(&mut checks);
    checks.finish()
}

fn read_text(path: &str) -> Result<String> {
    io::read_file(path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// Opens `path` and returns the open's result (closing what opened).
fn open_errno(path: &str) -> Result<usize> {
    sys::open(path, O_RDONLY).inspect(|&fd| {
        let _ = sys::close(fd);
    })
}

fn maps_of_pid(checks: &mut Checks) {
    // The child maps 3 pages, touches 2, tells the parent where, and waits
    // for the parent to close the pipe.
    let (Ok([to_parent_r, to_parent_w]), Ok([to_child_r, to_child_w])) = (sys::pipe2(0), sys::pipe2(0)) else {
        return checks.check("pipes", false, format_args!("pipe2 failed"));
    };
    let child = fork_with(|| {
        // Only the parent keeps these ends: the read below sees EOF when
        // the parent closes its write end.
        let _ = sys::close(to_child_w);
        let _ = sys::close(to_parent_r);
        let Ok(addr) = mm::mmap_anonymous(3 * PAGE, PROT_RW, MAP_PRIVATE) else { return 1 };
        // Pages 0 and 2: not a run of writes, which would make the whole
        // block resident (write-around, docs/mm.md).
        for page in [0, 2] {
            // SAFETY: the child's own fresh mapping.
            unsafe { core::ptr::write_volatile((addr + page * PAGE) as *mut u8, 1) };
        }
        let _ = sys::write(to_parent_w, &addr.to_le_bytes());
        let mut byte = [0u8; 1];
        let _ = sys::read(to_child_r, &mut byte);
        0
    });
    let _ = sys::close(to_parent_w);
    let _ = sys::close(to_child_r);
    let Ok(child) = child else {
        return checks.check("fork", false, format_args!("failed"));
    };
    let mut word = [0u8; 8];
    let got = tessera_guest_tests::system::read_full(to_parent_r, &mut word);
    let addr = usize::from_le_bytes(word);
    checks.check("the child reports its mapping", got == Ok(8), format_args!("{}", Shown(got)));

    let text = read_text(&format!("sys:maps/{child}"));
    let maps = text.as_deref().ok().map(Maps::parse);
    match maps {
        Some(Ok(maps)) => {
            let entry = maps.entries.iter().find(|e| e.start == addr);
            let shown = entry.map(|e| (e.end - e.start, e.perms.to_string(), e.kind.name(), e.resident_pages));
            checks.check(
                "maps/PID: the child's mapping, rw-p anon, 2 of 3 pages resident",
                shown == Some((3 * PAGE, String::from("rw-p"), "anon", 2)),
                format_args!("{shown:?}"),
            );
            let stack = maps.entries.iter().any(|e| e.kind.name() == "stack");
            checks.check("maps/PID: the child's stack is listed", stack, format_args!("{text:?}"));
        }
        other => checks.check("maps/PID parses", false, format_args!("{other:?} from {text:?}")),
    }
    let own = sys::getpid().map(|pid| format!("sys:maps/{pid}")).and_then(|path| read_text(&path));
    let mine = read_text("sys:maps");
    // Reading allocates nothing mapped between the two reads.
    checks.check(
        "maps/<own pid> equals sys:maps",
        own.is_ok() && own.as_ref().ok() == mine.as_ref().ok(),
        format_args!("{own:?} vs {mine:?}"),
    );
    let _ = sys::close(to_child_w);
    let reaped = reap(child);
    checks.check("the child exits with 0", matches!(reaped, Ok((_, s)) if s.code() == Some(0)), format_args!(""));
    let _ = sys::close(to_parent_r);
    checks.expect_errno("maps/PID of a reaped child: ESRCH", open_errno(&format!("sys:maps/{child}")), ESRCH);
    checks.expect_errno("maps/PID of a pid never used: ESRCH", open_errno("sys:maps/999999"), ESRCH);
    checks.expect_errno("maps/abc: ENOENT", open_errno("sys:maps/abc"), ENOENT);
    checks.expect_errno("maps/-1: ENOENT", open_errno("sys:maps/-1"), ENOENT);
}

fn uname(checks: &mut Checks) {
    let text = read_text("sys:uname");
    let arch = if cfg!(target_arch = "x86_64") { "x86_64" } else { "aarch64" };
    let ok = text
        .as_ref()
        .is_ok_and(|t| t.lines().count() == 1 && t.starts_with("Tessera ") && t.ends_with(&format!(" {arch}\n")));
    checks.check("sys:uname is one line `Tessera VERSION ARCH`", ok, format_args!("{text:?}"));
}

/// Writes `command` to `sys:power`.
fn power_write(command: &[u8]) -> Result<usize> {
    let fd = sys::open("sys:power", O_WRONLY)?;
    let written = sys::write(fd, command);
    let _ = sys::close(fd);
    written
}

fn power(checks: &mut Checks) {
    let text = read_text("sys:power");
    checks.check("sys:power reads empty", text.as_deref() == Ok(""), format_args!("{text:?}"));
    // A privileged `shutdown` would end the run: refuse to try.
    let state = tessera_runtime::process::privilege();
    if state != Ok(tessera_runtime::process::Privilege::Unprivileged) {
        return checks.check("this test runs unprivileged", false, format_args!("sys:privilege: {state:?}"));
    }
    let commands: [(&str, &[u8]); 5] = [
        ("`shutdown`", b"shutdown"),
        ("`reboot`", b"reboot"),
        ("`halt`", b"halt"),
        ("`shutdown now`", b"shutdown now"),
        ("bytes that are not UTF-8", b"\xff\xfe"),
    ];
    for (label, command) in commands {
        checks.expect_errno(&format!("unprivileged: sys:power {label}: EPERM"), power_write(command), EPERM);
    }
}
