//! `redoxfsd [--mkfs] IMAGE-PATH SCHEME-NAME`: serves the RedoxFS on the
//! file `IMAGE-PATH` (a disk image today, a `disk:` partition later) as
//! `SCHEME-NAME:`, forever, one request at a time. `--mkfs` formats the
//! image first (all of it). It never forks: the page cache is its own
//! address space, which fmap lends to clients (`docs/redoxfs.md`).
//!
//! Exits with 1 if the image cannot be opened, formatted or mounted, or
//! the scheme cannot be registered or its queue fails; 2 for bad arguments.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
mod daemon {
    use tessera_ramfs::SystemPages;
    use tessera_redoxfsd::{FdDisk, Redoxfsd};
    use tessera_runtime::abi::O_CLOEXEC;
    use tessera_runtime::abi::flag::{CLOCK_REALTIME, O_RDWR};
    use tessera_runtime::{Args, eprintln, scheme, sys};

    tessera_runtime::entry!(main);

    fn now() -> (u64, u32) {
        sys::clock_gettime(CLOCK_REALTIME).map_or((0, 0), |t| (t.tv_sec as u64, t.tv_nsec as u32))
    }

    fn main(args: Args) -> i32 {
        let (mkfs, image, name) = match args.argv() {
            [_, flag, image, name] if *flag == "--mkfs" => (true, image, name),
            [_, image, name] if !image.starts_with('-') => (false, image, name),
            _ => {
                eprintln!("usage: redoxfsd [--mkfs] IMAGE-PATH SCHEME-NAME");
                return 2;
            }
        };
        let fd = match sys::open(image, O_RDWR | O_CLOEXEC) {
            Ok(fd) => fd,
            Err(e) => {
                eprintln!("redoxfsd: {image}: {e}");
                return 1;
            }
        };
        let disk = FdDisk::new(fd);
        let mut server = match scheme::Server::register(name) {
            Ok(server) => server,
            Err(e) => {
                eprintln!("redoxfsd: registering {name}: {e}");
                return 1;
            }
        };
        // Shrinking a mapped file takes its pages back through the queue.
        let pages = SystemPages { queue: Some(server.fd()) };
        let mounted = if mkfs { Redoxfsd::mkfs(disk, pages, now) } else { Redoxfsd::mount(disk, pages, now) };
        let mut fs = match mounted {
            Ok(fs) => fs,
            Err(e) => {
                let what = if mkfs { "formatting" } else { "mounting" };
                eprintln!("redoxfsd: {what} {image}: {e} (errno {})", e.errno);
                return 1;
            }
        };
        let error = server.run(&mut fs);
        eprintln!("redoxfsd: serving {name}: stopped: {error} (errno {})", error.errno);
        1
    }
}

/// On the host the daemon cannot run (the filesystem's tests can: `cargo
/// test -p redoxfsd`).
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("redoxfsd runs on Tessera only");
    std::process::exit(2);
}
