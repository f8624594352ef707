//! File operations several tools share: metadata of a path ([`stat`]),
//! `ls -l`'s mode column ([`mode_string`]), copying a file's bytes
//! ([`copy_file`]) and removing a tree ([`remove_tree`]).

use alloc::string::String;

use tessera_runtime::abi::error::EISDIR;
use tessera_runtime::abi::flag::{MODE_DIR, MODE_FILE, MODE_SYMLINK, MODE_TYPE};
use tessera_runtime::abi::flag::{O_CREAT, O_DIRECTORY, O_RDONLY, O_TRUNC, O_WRONLY};
use tessera_runtime::abi::{O_CLOEXEC, Stat};
use tessera_runtime::{Error, Result, fs, io, sys};

/// Bytes moved per `read` when copying.
const CHUNK_BYTES: usize = 4096;

/// The metadata of `path` (open, `fstat`, close).
/// Errors: those of `sys::open` (`ENOENT`, `ENODEV`, `ENOTDIR`…).
pub fn stat(path: &str) -> Result<Stat> {
    let fd = match sys::open(path, O_RDONLY | O_CLOEXEC) {
        // A scheme that opens directories only with O_DIRECTORY.
        Err(e) if e.errno == EISDIR => sys::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)?,
        other => other?,
    };
    let stat = sys::fstat(fd);
    let _ = sys::close(fd);
    stat
}

/// Whether `stat` describes a directory.
pub fn is_dir(stat: &Stat) -> bool {
    stat.st_mode & MODE_TYPE == MODE_DIR
}

/// `ls -l`'s first column: the kind (`d` directory, `-` file, `l`
/// symbolic link, `?` other) and the nine `rwx` permission bits.
pub fn mode_string(mode: u16) -> String {
    let mut out = String::with_capacity(10);
    out.push(match mode & MODE_TYPE {
        MODE_DIR => 'd',
        MODE_FILE => '-',
        MODE_SYMLINK => 'l',
        _ => '?',
    });
    for shift in (0..3).rev() {
        let bits = (mode >> (shift * 3)) & 0o7;
        out.push(if bits & 0o4 != 0 { 'r' } else { '-' });
        out.push(if bits & 0o2 != 0 { 'w' } else { '-' });
        out.push(if bits & 0o1 != 0 { 'x' } else { '-' });
    }
    out
}

/// Which side of a copy failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Source,
    Target,
}

/// Copies the bytes of file `src` to `dst`, which is created or
/// truncated.
/// Errors: the side and the error of the call that failed (`EISDIR` a
/// directory as the source or target, `ENOENT`…).
pub fn copy_file(src: &str, dst: &str) -> core::result::Result<(), (Side, Error)> {
    let from = sys::open(src, O_RDONLY | O_CLOEXEC).map_err(|e| (Side::Source, e))?;
    let result = sys::fstat(from).map_err(|e| (Side::Source, e)).and_then(|stat| {
        if is_dir(&stat) {
            return Err((Side::Source, Error::new(EISDIR)));
        }
        let to = sys::open(dst, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC).map_err(|e| (Side::Target, e))?;
        let copied = copy_fd(from, to);
        let _ = sys::close(to);
        copied
    });
    let _ = sys::close(from);
    result
}

/// Copies `from` to `to` until `from`'s end.
fn copy_fd(from: usize, to: usize) -> core::result::Result<(), (Side, Error)> {
    let mut buf = [0u8; CHUNK_BYTES];
    loop {
        match sys::read(from, &mut buf).map_err(|e| (Side::Source, e))? {
            0 => return Ok(()),
            n => io::write_all(to, &buf[..n.min(CHUNK_BYTES)]).map_err(|e| (Side::Target, e))?,
        }
    }
}

/// Removes `path` and, if it is a directory, everything below it, depth
/// first. Each failure goes to `report` with the path it concerns; the
/// walk carries on with the rest. Returns whether everything went.
pub fn remove_tree(path: &str, report: &mut dyn FnMut(&str, Error)) -> bool {
    let is_directory = match stat(path) {
        Ok(stat) => is_dir(&stat),
        Err(e) => {
            report(path, e);
            return false;
        }
    };
    if !is_directory {
        return match sys::unlink(path) {
            Ok(()) => true,
            Err(e) => {
                report(path, e);
                false
            }
        };
    }
    let mut all = true;
    match fs::read_dir(path) {
        Ok(entries) => {
            for (name, _) in entries {
                all &= remove_tree(&crate::path::join(path, &name), report);
            }
        }
        Err(e) => {
            report(path, e);
            return false;
        }
    }
    match sys::rmdir(path) {
        Ok(()) => all,
        Err(e) => {
            report(path, e);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(mode_string(MODE_DIR | 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(MODE_FILE | 0o644), "-rw-r--r--");
        assert_eq!(mode_string(0o200), "?-w-------");
    }
}
