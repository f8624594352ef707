//! The errors of this layer, and the Linux errno each becomes at the
//! syscall edge (the numbers are `tessera-abi`'s).

use core::fmt;

use tessera_abi::error::{EACCES, EEXIST, EFAULT, EINVAL, ENOMEM, EOPNOTSUPP, EPERM};

use crate::traits::MapFailed;

/// Why an address-space operation failed. Every operation that returns one
/// left the space exactly as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmError {
    /// EINVAL (22): zero length, a misaligned address or offset, overflow
    /// (other than mmap's length), bad flag or advice values, or an
    /// operation the provider does not allow (e.g. DONTNEED on device memory).
    Inval,
    /// ENOMEM (12): no free range fits, an mmap length that overflows or a
    /// fixed mmap range that ends past the user range, the address-space cap
    /// would be exceeded, part of the range is unmapped (mprotect, madvise,
    /// msync), or frames / page-table pages ran out.
    NoMem,
    /// EPERM (1): a fixed mmap range that starts below the lowest mappable
    /// address (Linux's `mmap_min_addr`).
    Perm,
    /// EEXIST (17): MAP_FIXED_NOREPLACE over an existing mapping.
    Exist,
    /// EACCES (13): a writable and executable mapping was asked for while
    /// W^X is enforced.
    Access,
    /// EFAULT (14): mremap's old range is not inside one mapping, or the
    /// mapping cannot grow (device or borrowed memory).
    Fault,
    /// EOPNOTSUPP (95): a feature this layer does not have yet (a private
    /// mapping of a memory object); also mremap growing a file mapping
    /// before the scheme lent the added pages (the kernel asks it and
    /// calls again: user space never sees this one).
    Unsupported,
}

impl MmError {
    /// The Linux errno number (positive).
    pub const fn errno(self) -> i32 {
        match self {
            Self::Inval => EINVAL,
            Self::NoMem => ENOMEM,
            Self::Perm => EPERM,
            Self::Exist => EEXIST,
            Self::Access => EACCES,
            Self::Fault => EFAULT,
            Self::Unsupported => EOPNOTSUPP,
        }
    }
}

impl From<MapFailed> for MmError {
    fn from(_: MapFailed) -> Self {
        Self::NoMem
    }
}

impl fmt::Display for MmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Inval => "invalid argument",
            Self::NoMem => "out of memory or address space",
            Self::Perm => "operation not permitted",
            Self::Exist => "mapping exists",
            Self::Access => "permission denied",
            Self::Fault => "bad address",
            Self::Unsupported => "operation not supported",
        };
        f.write_str(text)
    }
}

/// Why a page fault could not be resolved; the kernel turns it into a
/// signal (or an error for a kernel access to user memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No mapping allows this access (unmapped, PROT_NONE, write to
    /// read-only, execute of non-executable, stack guard gap): SIGSEGV.
    Segv,
    /// The mapping exists but has no page there (past the end of a memory
    /// object): SIGBUS.
    Bus,
    /// A frame or page-table page could not be allocated. Nothing changed;
    /// the kernel may retry after reclaiming, or kill the process.
    OutOfMemory,
    /// A file page has no frame here yet: the kernel fetches it from the
    /// lender ([`crate::AddrSpace::file_page_wanted`],
    /// [`crate::AddrSpace::supply_file_page`]) and retries. Nothing changed.
    FilePage,
}
