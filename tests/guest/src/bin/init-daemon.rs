//! `init-daemon`: the daemon init started from `etc/init.rc` (`daemon
//! echod`) is running while the tests run, and serves.
//!
//! | check | expected |
//! |---|---|
//! | `sys:processes` | exactly one live `echod`, a child of init (ppid 1) |
//! | `open("echo:init-daemon")` | succeeds (retried while ENODEV, as `ramfs::open_when_there` does, in case the daemon is still registering) |
//! | write a message, read it back | the same bytes; the next read gives 0 |
//! | `kill(echod, 0)` afterwards | the daemon is still alive |
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use tessera_guest_tests::ramfs::open_when_there;
use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::flag::O_RDWR;
use tessera_runtime::{Args, io, sys};

tessera_runtime::entry!(main);

/// The daemon's program name, as `sys:processes` shows it.
const DAEMON: &str = "echod";
/// What goes through the daemon and back.
const MESSAGE: &[u8] = b"ping from init-daemon";

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("init-daemon");
    let daemons = match io::read_file("sys:processes").map(String::from_utf8) {
        Ok(Ok(text)) => daemon_lines(&text),
        _ => {
            checks.check("read sys:processes", false, format_args!("failed"));
            return checks.finish();
        }
    };
    let init_child = matches!(daemons.as_slice(), [(_, 1)]);
    checks.check(
        "sys:processes shows one live echod, a child of init",
        init_child,
        format_args!("live echod processes (pid, ppid): {daemons:?}"),
    );

    // init started echod before the tests; it may still be registering.
    let opened = open_when_there("echo:init-daemon", O_RDWR, None);
    checks.check("open echo:init-daemon", opened.is_ok(), format_args!("got {}", Shown(opened)));
    if let Ok(fd) = opened {
        let wrote = sys::write(fd, MESSAGE);
        checks.check("write to echo:", wrote == Ok(MESSAGE.len()), format_args!("got {}", Shown(wrote)));
        let mut buf = [0u8; 64];
        let read = sys::read(fd, &mut buf);
        let back = read.ok().and_then(|n| buf.get(..n));
        checks.check(
            "read gives the bytes back",
            back == Some(MESSAGE),
            format_args!("got {} {:?}", Shown(read), back.map(String::from_utf8_lossy)),
        );
        let again = sys::read(fd, &mut buf);
        checks.check("then nothing is held", again == Ok(0), format_args!("got {}", Shown(again)));
        let closed = sys::close(fd).map(|()| 0);
        checks.check("close", closed.is_ok(), format_args!("got {}", Shown(closed)));
    }

    if let [(pid, _)] = daemons.as_slice() {
        let alive = sys::kill(*pid, 0).map(|()| 0);
        checks.check("echod is still alive", alive.is_ok(), format_args!("kill(pid, 0) gave {}", Shown(alive)));
    }
    checks.finish()
}

/// `(pid, ppid)` of each live `echod` in a `sys:processes` listing (`pid
/// ppid state pages threads name`).
fn daemon_lines(text: &str) -> Vec<(usize, usize)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.splitn(6, ' ').collect();
            let [pid, ppid, state, _pages, _threads, name] = fields.as_slice() else { return None };
            (*state == "alive" && *name == DAEMON).then(|| Some((pid.parse().ok()?, ppid.parse().ok()?)))?
        })
        .collect()
}
