//! `ramfs [SCHEME_NAME]`: serves a filesystem in RAM as `SCHEME_NAME:`
//! (default `file:`, the scheme paths without one go to), forever, one
//! request at a time. It never forks: the file memory is its own address
//! space, which fmap lends to clients (`docs/ramfs.md`).
//!
//! Exits with 1 if the scheme cannot be registered or its queue fails, 2
//! for bad arguments.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
mod daemon {
    use tessera_ramfs::{DEFAULT_NAME, Ramfs, SystemPages};
    use tessera_runtime::{Args, eprintln, scheme};

    tessera_runtime::entry!(main);

    fn main(args: Args) -> i32 {
        let name = match args.argv() {
            [_] => DEFAULT_NAME,
            [_, name] => name,
            _ => {
                eprintln!("usage: ramfs [SCHEME_NAME]");
                return 2;
            }
        };
        let error = match scheme::Server::register(name) {
            // Truncates take shrunk files' pages back from their mappings
            // through the queue.
            Ok(mut server) => server.run(&mut Ramfs::new(SystemPages { queue: Some(server.fd()) })),
            Err(e) => e,
        };
        eprintln!("ramfs: serving {name}: stopped: {error} (errno {})", error.errno);
        1
    }
}

/// On the host the daemon cannot run (the filesystem's tests can: `cargo
/// test -p ramfs`).
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("ramfs runs on Tessera only");
    std::process::exit(2);
}
