//! `redoxfsd [--mkfs] [--cache-pages N] IMAGE-PATH SCHEME-NAME`: serves the
//! RedoxFS on the file `IMAGE-PATH` (a disk image, or a `disk:` partition)
//! as `SCHEME-NAME:`, forever, one request at a time. `--mkfs` formats the
//! image first (all of it); `--cache-pages` sets the page cache's limit
//! (default 4096 pages, 16 MiB; at least 1). It never forks: the page
//! cache is its own address space, which fmap lends to clients
//! (`docs/redoxfs.md`).
//!
//! `redoxfsd [--cache-pages N] --partition NAME SCHEME-NAME` serves the first partition
//! `disk:` lists with the GPT name `NAME` that mounts: init mounts the
//! installer's `TESSERA_ROOT` partition as `file:` this way.
//!
//! Exits with 1 if the image cannot be opened, formatted or mounted (with
//! `--partition`: no partition of that name mounts), or the scheme cannot
//! be registered or its queue fails; 2 for bad arguments.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod daemon {
    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;

    use tessera_ramfs::SystemPages;
    use tessera_redoxfsd::{FdDisk, Redoxfsd, partitions_named};
    use tessera_runtime::abi::O_CLOEXEC;
    use tessera_runtime::abi::flag::{CLOCK_REALTIME, O_RDWR};
    use tessera_runtime::{Args, eprintln, io, println, scheme, sys};

    tessera_runtime::entry!(main);

    fn now() -> (u64, u32) {
        sys::clock_gettime(CLOCK_REALTIME).map_or((0, 0), |t| (t.tv_sec as u64, t.tv_nsec as u32))
    }

    /// What to serve.
    #[derive(Clone, Copy)]
    enum Source<'a> {
        Image { path: &'a str, mkfs: bool },
        Partition(&'a str),
    }

    /// `--mkfs`, `--cache-pages N` (N from 1), what to serve and the
    /// scheme name; `None` for anything else.
    fn parse<'a>(mut argv: &[&'a str]) -> Option<(Source<'a>, Option<u64>, &'a str)> {
        argv = argv.get(1..)?;
        let (mut mkfs, mut cache_pages) = (false, None);
        loop {
            match argv {
                ["--mkfs", rest @ ..] => (mkfs, argv) = (true, rest),
                ["--cache-pages", n, rest @ ..] => {
                    cache_pages = Some(n.parse::<u64>().ok().filter(|&n| n > 0)?);
                    argv = rest;
                }
                ["--partition", part, name] if !mkfs => return Some((Source::Partition(part), cache_pages, name)),
                [image, name] if !image.starts_with('-') => {
                    return Some((Source::Image { path: image, mkfs }, cache_pages, name));
                }
                _ => return None,
            }
        }
    }

    fn main(args: Args) -> i32 {
        let Some((source, cache_pages, name)) = parse(args.argv()) else {
            eprintln!(
                "usage: redoxfsd [--mkfs] [--cache-pages N] IMAGE-PATH SCHEME-NAME | \
                 redoxfsd [--cache-pages N] --partition NAME SCHEME-NAME"
            );
            return 2;
        };
        // The partition's listing is read before the scheme exists, so a
        // root that is not there fails before anyone waits on `name:`.
        let candidates: Vec<String> = match source {
            Source::Image { path, .. } => alloc::vec![String::from(path)],
            Source::Partition(part) => match io::read_file("disk:") {
                Ok(bytes) => {
                    partitions_named(&String::from_utf8_lossy(&bytes), part).map(|p| format!("disk:{p}")).collect()
                }
                Err(e) => {
                    eprintln!("redoxfsd: listing disk:: {e}");
                    return 1;
                }
            },
        };
        let mkfs = matches!(source, Source::Image { mkfs: true, .. });
        let mut server = match scheme::Server::register(name) {
            Ok(server) => server,
            Err(e) => {
                eprintln!("redoxfsd: registering {name}: {e}");
                return 1;
            }
        };
        // Shrinking a mapped file takes its pages back through the queue.
        let pages = || SystemPages { queue: Some(server.fd()) };
        let mut mounted = None;
        for image in &candidates {
            let fd = match sys::open(image, O_RDWR | O_CLOEXEC) {
                Ok(fd) => fd,
                Err(e) => {
                    eprintln!("redoxfsd: {image}: {e}");
                    continue;
                }
            };
            let disk = FdDisk::new(fd);
            let result = if mkfs { Redoxfsd::mkfs(disk, pages(), now) } else { Redoxfsd::mount(disk, pages(), now) };
            match result {
                Ok(fs) => {
                    mounted = Some(fs);
                    if let Source::Partition(part) = source {
                        println!("redoxfsd: {part} is {image}, served as {name}:");
                    }
                    break;
                }
                Err(e) => {
                    let what = if mkfs { "formatting" } else { "mounting" };
                    eprintln!("redoxfsd: {what} {image}: {e} (errno {})", e.errno);
                    // FdDisk does not own the descriptor.
                    let _ = sys::close(fd);
                }
            }
        }
        let Some(mut fs) = mounted else {
            if let Source::Partition(part) = source {
                eprintln!("redoxfsd: no partition named {part} in disk: mounts");
            }
            return 1;
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
