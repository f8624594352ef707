//! `redoxfsd [--mkfs] [--cache-pages N] IMAGE-PATH SCHEME-NAME`: serves the
//! RedoxFS on the file `IMAGE-PATH` (a disk image today, a `disk:` partition
//! later) as `SCHEME-NAME:`, forever, one request at a time. `--mkfs`
//! formats the image first (all of it); `--cache-pages` sets the page
//! cache's limit (default 4096 pages, 16 MiB; at least 1). It never forks: the page cache is its own
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

    /// `--mkfs`, `--cache-pages N` (N from 1), the image and the scheme
    /// name; `None` for anything else.
    fn parse<'a>(mut argv: &[&'a str]) -> Option<(bool, Option<u64>, &'a str, &'a str)> {
        argv = argv.get(1..)?;
        let (mut mkfs, mut cache_pages) = (false, None);
        loop {
            match argv {
                ["--mkfs", rest @ ..] => (mkfs, argv) = (true, rest),
                ["--cache-pages", n, rest @ ..] => {
                    cache_pages = Some(n.parse::<u64>().ok().filter(|&n| n > 0)?);
                    argv = rest;
                }
                [image, name] if !image.starts_with('-') => return Some((mkfs, cache_pages, *image, *name)),
                _ => return None,
            }
        }
    }

    fn main(args: Args) -> i32 {
        let Some((mkfs, cache_pages, image, name)) = parse(args.argv()) else {
            eprintln!("usage: redoxfsd [--mkfs] [--cache-pages N] IMAGE-PATH SCHEME-NAME");
            return 2;
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
        if let Some(pages) = cache_pages {
            fs.set_cache_pages(pages);
        }
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
