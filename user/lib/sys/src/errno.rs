//! Every errno's symbolic name and message, in one table: what the tools
//! print (`ENOENT (No such file or directory)`), what the tests name in
//! their messages, what C's `strerror` returns, and the names the C
//! headers' check (relibc-shim's `build.rs`) compares `<errno.h>` with.
//!
//! The values are `tessera_abi::error`'s (Redox's numbering: Linux's, with
//! `EWOULDBLOCK` = 41 and `EDEADLOCK` = 58 numbers of their own rather than
//! aliases); the table only names them. The messages are glibc's wording,
//! so ported programs print what they would on Linux.

use core::ffi::CStr;
use core::fmt;

use tessera_abi::Error;
use tessera_abi::error::*;

/// One errno: its value, its symbolic name and its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno {
    /// The value (`tessera_abi::error::ENOENT`, …).
    pub value: i32,
    /// The symbolic name (`"ENOENT"`).
    pub name: &'static str,
    /// The message (`"No such file or directory"`), NUL-terminated for C.
    pub message: &'static CStr,
}

macro_rules! table {
    ($($name:ident => $message:literal,)*) => {
        /// Every errno the kernel's ABI defines, in increasing value.
        pub const ALL: &[Errno] = &[$(Errno { value: $name, name: stringify!($name), message: $message },)*];
    };
}

table! {
    EPERM => c"Operation not permitted",
    ENOENT => c"No such file or directory",
    ESRCH => c"No such process",
    EINTR => c"Interrupted system call",
    EIO => c"Input/output error",
    ENXIO => c"No such device or address",
    E2BIG => c"Argument list too long",
    ENOEXEC => c"Exec format error",
    EBADF => c"Bad file descriptor",
    ECHILD => c"No child processes",
    EAGAIN => c"Resource temporarily unavailable",
    ENOMEM => c"Cannot allocate memory",
    EACCES => c"Permission denied",
    EFAULT => c"Bad address",
    ENOTBLK => c"Block device required",
    EBUSY => c"Device or resource busy",
    EEXIST => c"File exists",
    EXDEV => c"Invalid cross-device link",
    ENODEV => c"No such device",
    ENOTDIR => c"Not a directory",
    EISDIR => c"Is a directory",
    EINVAL => c"Invalid argument",
    ENFILE => c"Too many open files in system",
    EMFILE => c"Too many open files",
    ENOTTY => c"Inappropriate ioctl for device",
    ETXTBSY => c"Text file busy",
    EFBIG => c"File too large",
    ENOSPC => c"No space left on device",
    ESPIPE => c"Illegal seek",
    EROFS => c"Read-only file system",
    EMLINK => c"Too many links",
    EPIPE => c"Broken pipe",
    EDOM => c"Numerical argument out of domain",
    ERANGE => c"Numerical result out of range",
    EDEADLK => c"Resource deadlock avoided",
    ENAMETOOLONG => c"File name too long",
    ENOLCK => c"No locks available",
    ENOSYS => c"Function not implemented",
    ENOTEMPTY => c"Directory not empty",
    ELOOP => c"Too many levels of symbolic links",
    EWOULDBLOCK => c"Operation would block",
    ENOMSG => c"No message of desired type",
    EIDRM => c"Identifier removed",
    ECHRNG => c"Channel number out of range",
    EL2NSYNC => c"Level 2 not synchronized",
    EL3HLT => c"Level 3 halted",
    EL3RST => c"Level 3 reset",
    ELNRNG => c"Link number out of range",
    EUNATCH => c"Protocol driver not attached",
    ENOCSI => c"No CSI structure available",
    EL2HLT => c"Level 2 halted",
    EBADE => c"Invalid exchange",
    EBADR => c"Invalid request descriptor",
    EXFULL => c"Exchange full",
    ENOANO => c"No anode",
    EBADRQC => c"Invalid request code",
    EBADSLT => c"Invalid slot",
    EDEADLOCK => c"Resource deadlock avoided",
    EBFONT => c"Bad font file format",
    ENOSTR => c"Device not a stream",
    ENODATA => c"No data available",
    ETIME => c"Timer expired",
    ENOSR => c"Out of streams resources",
    ENONET => c"Machine is not on the network",
    ENOPKG => c"Package not installed",
    EREMOTE => c"Object is remote",
    ENOLINK => c"Link has been severed",
    EADV => c"Advertise error",
    ESRMNT => c"Srmount error",
    ECOMM => c"Communication error on send",
    EPROTO => c"Protocol error",
    EMULTIHOP => c"Multihop attempted",
    EDOTDOT => c"RFS specific error",
    EBADMSG => c"Bad message",
    EOVERFLOW => c"Value too large for defined data type",
    ENOTUNIQ => c"Name not unique on network",
    EBADFD => c"File descriptor in bad state",
    EREMCHG => c"Remote address changed",
    ELIBACC => c"Can not access a needed shared library",
    ELIBBAD => c"Accessing a corrupted shared library",
    ELIBSCN => c".lib section in a.out corrupted",
    ELIBMAX => c"Attempting to link in too many shared libraries",
    ELIBEXEC => c"Cannot exec a shared library directly",
    EILSEQ => c"Invalid or incomplete multibyte or wide character",
    ERESTART => c"Interrupted system call should be restarted",
    ESTRPIPE => c"Streams pipe error",
    EUSERS => c"Too many users",
    ENOTSOCK => c"Socket operation on non-socket",
    EDESTADDRREQ => c"Destination address required",
    EMSGSIZE => c"Message too long",
    EPROTOTYPE => c"Protocol wrong type for socket",
    ENOPROTOOPT => c"Protocol not available",
    EPROTONOSUPPORT => c"Protocol not supported",
    ESOCKTNOSUPPORT => c"Socket type not supported",
    EOPNOTSUPP => c"Operation not supported",
    EPFNOSUPPORT => c"Protocol family not supported",
    EAFNOSUPPORT => c"Address family not supported by protocol",
    EADDRINUSE => c"Address already in use",
    EADDRNOTAVAIL => c"Cannot assign requested address",
    ENETDOWN => c"Network is down",
    ENETUNREACH => c"Network is unreachable",
    ENETRESET => c"Network dropped connection on reset",
    ECONNABORTED => c"Software caused connection abort",
    ECONNRESET => c"Connection reset by peer",
    ENOBUFS => c"No buffer space available",
    EISCONN => c"Transport endpoint is already connected",
    ENOTCONN => c"Transport endpoint is not connected",
    ESHUTDOWN => c"Cannot send after transport endpoint shutdown",
    ETOOMANYREFS => c"Too many references: cannot splice",
    ETIMEDOUT => c"Connection timed out",
    ECONNREFUSED => c"Connection refused",
    EHOSTDOWN => c"Host is down",
    EHOSTUNREACH => c"No route to host",
    EALREADY => c"Operation already in progress",
    EINPROGRESS => c"Operation now in progress",
    ESTALE => c"Stale file handle",
    EUCLEAN => c"Structure needs cleaning",
    ENOTNAM => c"Not a XENIX named type file",
    ENAVAIL => c"No XENIX semaphores available",
    EISNAM => c"Is a named type file",
    EREMOTEIO => c"Remote I/O error",
    EDQUOT => c"Disk quota exceeded",
    ENOMEDIUM => c"No medium found",
    EMEDIUMTYPE => c"Wrong medium type",
    ECANCELED => c"Operation canceled",
    ENOKEY => c"Required key not available",
    EKEYEXPIRED => c"Key has expired",
    EKEYREVOKED => c"Key has been revoked",
    EKEYREJECTED => c"Key was rejected by service",
    EOWNERDEAD => c"Owner died",
    ENOTRECOVERABLE => c"State not recoverable",
    ERSVD => c"Reserved",
}

/// What [`name`] gives for a value without one.
pub const UNKNOWN_NAME: &str = "E?";
/// What [`message`] gives for a value without one.
pub const UNKNOWN_MESSAGE: &CStr = c"Unknown error";
/// The message of 0, "no error".
pub const SUCCESS_MESSAGE: &CStr = c"Success";

/// The table's entry for `errno`, if it has one.
pub fn lookup(errno: i32) -> Option<&'static Errno> {
    ALL.iter().find(|e| e.value == errno)
}

/// The symbolic name of `errno` (`"ENOENT"`), or [`UNKNOWN_NAME`].
pub fn name(errno: i32) -> &'static str {
    lookup(errno).map_or(UNKNOWN_NAME, |e| e.name)
}

/// The message of `errno` (`"No such file or directory"`); `"Success"`
/// for 0, [`UNKNOWN_MESSAGE`] for a value without an entry.
pub fn message(errno: i32) -> &'static str {
    // Every message is ASCII (a host test checks), so the fallback is
    // never taken.
    core::str::from_utf8(message_c(errno).to_bytes()).unwrap_or("")
}

/// [`message`] as a C string, for `strerror`.
pub fn message_c(errno: i32) -> &'static CStr {
    match lookup(errno) {
        Some(e) => e.message,
        None if errno == 0 => SUCCESS_MESSAGE,
        None => UNKNOWN_MESSAGE,
    }
}

/// An error as the tools print it: `ENOENT (No such file or directory)`,
/// or `errno 200 (Unknown error)` for a value without a name.
pub struct Described(pub Error);

impl fmt::Display for Described {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errno = self.0.errno;
        match lookup(errno) {
            Some(e) => write!(f, "{} ({})", e.name, message(errno)),
            None => write!(f, "errno {errno} ({})", message(errno)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_messages() {
        assert_eq!(name(ENOENT), "ENOENT");
        assert_eq!(message(ENOENT), "No such file or directory");
        assert_eq!(message_c(EBADF), c"Bad file descriptor");
        assert_eq!(name(EWOULDBLOCK), "EWOULDBLOCK");
        assert_eq!(name(200), UNKNOWN_NAME);
        assert_eq!(message(200), "Unknown error");
        assert_eq!(message(0), "Success");
        assert_eq!(std::format!("{}", Described(Error::new(ENOENT))), "ENOENT (No such file or directory)");
        assert_eq!(std::format!("{}", Described(Error::new(EPERM))), "EPERM (Operation not permitted)");
        assert_eq!(std::format!("{}", Described(Error::new(200))), "errno 200 (Unknown error)");
    }

    #[test]
    fn the_table_covers_every_value_once_in_order() {
        // Redox's values run 1 ..= ERSVD without a gap.
        assert_eq!(ALL.len(), ERSVD as usize);
        for (i, e) in ALL.iter().enumerate() {
            assert_eq!(e.value, i as i32 + 1, "{}", e.name);
            assert!(e.name.starts_with('E') && e.name.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert!(!e.message.is_empty() && e.message.to_bytes().is_ascii(), "{}", e.name);
        }
    }
}
