//! Errno names for messages: `ENOENT (No such file or directory)`, the
//! symbolic name a porting user searches for followed by the text.

use core::fmt;

use tessera_runtime::Error;
use tessera_runtime::abi::error::*;

/// The symbolic name of `errno` (`ENOENT`), or `None` for one this table
/// does not list.
pub fn name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        ESRCH => "ESRCH",
        EINTR => "EINTR",
        EIO => "EIO",
        ENXIO => "ENXIO",
        E2BIG => "E2BIG",
        ENOEXEC => "ENOEXEC",
        EBADF => "EBADF",
        ECHILD => "ECHILD",
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        EFAULT => "EFAULT",
        EBUSY => "EBUSY",
        EEXIST => "EEXIST",
        EXDEV => "EXDEV",
        ENODEV => "ENODEV",
        ENOTDIR => "ENOTDIR",
        EISDIR => "EISDIR",
        EINVAL => "EINVAL",
        ENFILE => "ENFILE",
        EMFILE => "EMFILE",
        EFBIG => "EFBIG",
        ENOSPC => "ENOSPC",
        ESPIPE => "ESPIPE",
        EROFS => "EROFS",
        EPIPE => "EPIPE",
        ERANGE => "ERANGE",
        ENAMETOOLONG => "ENAMETOOLONG",
        ENOSYS => "ENOSYS",
        ENOTEMPTY => "ENOTEMPTY",
        EOPNOTSUPP => "EOPNOTSUPP",
        ETIMEDOUT => "ETIMEDOUT",
        _ => return None,
    })
}

/// An error as the tools print it: `ENOENT (No such file or directory)`,
/// or `errno 200 (Unknown Error)` for one without a name here.
pub struct Described(pub Error);

impl fmt::Display for Described {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match name(self.0.errno) {
            Some(name) => write!(f, "{name} ({})", self.0.text()),
            None => write!(f, "errno {} ({})", self.0.errno, self.0.text()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn described_errors() {
        assert_eq!(std::format!("{}", Described(Error::new(ENOENT))), "ENOENT (No such file or directory)");
        assert_eq!(std::format!("{}", Described(Error::new(EPERM))), "EPERM (Operation not permitted)");
        assert!(std::format!("{}", Described(Error::new(200))).starts_with("errno 200 ("));
    }
}
