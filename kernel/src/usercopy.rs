//! Moving bytes between the kernel and user memory. The kernel never
//! dereferences a user address: each page is looked up in the process's
//! table (present, user-accessible, writable where written) and reached
//! through the physical window. A missing page or a range reaching the
//! kernel half is EFAULT; nothing is copied past the first bad page.
//!
//! A user struct of the ABI is read whole, as its type
//! ([`UserSlice::read_value`], [`UserSlice::read_values`]), never word by word: [`UserPod`] names the
//! types that may be filled from any bytes, and its one `unsafe` read is
//! argued here.

use alloc::string::String;
use alloc::vec::Vec;
use core::mem::size_of;

use rmm::{PAGE_SIZE, VirtAddr};
use tessera_abi::error::{EFAULT, EINVAL, Error, Result};
use tessera_abi::{Map, TimeSpec};
use tessera_bootinfo::{USER_END, phys_to_virt};

use tessera_mm::{Access, FaultError};

use crate::mm::UserSpace;

/// Plain-old-data types of the ABI that a user copy may fill from any
/// bytes: [`UserSlice::read_value`] reads them whole.
///
/// # Safety
/// Every bit pattern of `size_of::<Self>()` bytes must be a valid `Self`
/// (integers, and `repr(C)` structs of them; padding is never read as a
/// value), and the type must own no pointer or resource.
pub unsafe trait UserPod: Copy {}

// SAFETY: integers; any bits are a value.
unsafe impl UserPod for u32 {}
// SAFETY: as above.
unsafe impl UserPod for usize {}
// SAFETY: an array of `UserPod` values is one too, with no padding.
unsafe impl<T: UserPod, const N: usize> UserPod for [T; N] {}
// SAFETY: `repr(C)` of an `i64` and an `i32` (and tail padding).
unsafe impl UserPod for TimeSpec {}
// SAFETY: `repr(C)` of four `usize` words; the third is `MapFlags`, a
// bitflags struct whose one field is a `repr(transparent)` `usize` and
// which keeps unknown bits (the handler checks them): the assertions
// below pin that it fills its word, so any bits are a value.
unsafe impl UserPod for Map {}
// SAFETY: `#[repr(C)]` integers with explicit padding fields: every bit
// pattern is a value.
unsafe impl UserPod for tessera_abi::lock::Flock {}
const _: () = assert!(size_of::<tessera_abi::flag::MapFlags>() == size_of::<usize>());
const _: () = assert!(size_of::<Map>() == 4 * size_of::<usize>());

/// A user range, checked to lie inside user space.
#[derive(Clone, Copy, Debug)]
pub struct UserSlice {
    addr: VirtAddr,
    len: usize,
}

impl UserSlice {
    /// `[addr, addr + len)`; EFAULT if it wraps or leaves user space.
    pub fn new(addr: usize, len: usize) -> Result<Self> {
        let end = addr.checked_add(len).ok_or(Error::new(EFAULT))?;
        if end as u64 > USER_END {
            return Err(Error::new(EFAULT));
        }
        Ok(Self { addr: VirtAddr::new(addr as u64), len })
    }
    /// The part starting `offset` bytes in, at most `len` long.
    pub fn sub(&self, offset: usize, len: usize) -> Self {
        let offset = offset.min(self.len);
        Self { addr: self.addr.add(offset as u64), len: len.min(self.len - offset) }
    }
    /// The range's bytes (copied once: the buffer is not zeroed first).
    pub fn read(&self, space: &mut UserSpace) -> Result<Vec<u8>> {
        let mut out: Vec<u8> = Vec::with_capacity(self.len);
        let base = out.as_mut_ptr();
        for_each_page(space, self.addr, self.len, false, |phys, offset, len| {
            // SAFETY: a user frame of `space`, reachable through the window;
            // the piece stays within the page and within `out`'s capacity.
            unsafe { core::ptr::copy_nonoverlapping(phys_to_virt(phys) as *const u8, base.add(offset), len) }
        })?;
        // SAFETY: `for_each_page` succeeded, so it ran for every piece, and
        // the pieces cover `[0, self.len)`: every byte is written.
        unsafe { out.set_len(self.len) };
        Ok(out)
    }
    /// The range as one `T` (EINVAL unless it is exactly `T`'s size),
    /// copied straight into the value (no buffer in between).
    pub fn read_value<T: UserPod>(&self, space: &mut UserSpace) -> Result<T> {
        if self.len != size_of::<T>() {
            return Err(Error::new(EINVAL));
        }
        let mut value = core::mem::MaybeUninit::<T>::uninit();
        let base = value.as_mut_ptr().cast::<u8>();
        for_each_page(space, self.addr, self.len, false, |phys, offset, len| {
            // SAFETY: a user frame of `space`, reachable through the window;
            // the piece stays within the page and within the value's bytes.
            unsafe { core::ptr::copy_nonoverlapping(phys_to_virt(phys) as *const u8, base.add(offset), len) }
        })?;
        // SAFETY: `for_each_page` succeeded, so its pieces covered all
        // `size_of::<T>()` bytes; `T: UserPod` makes any bytes a valid `T`.
        Ok(unsafe { value.assume_init() })
    }
    /// The range as an array of `T` (EINVAL unless its length is a whole
    /// number of them).
    pub fn read_values<T: UserPod>(&self, space: &mut UserSpace) -> Result<Vec<T>> {
        let size = size_of::<T>();
        if size == 0 || !self.len.is_multiple_of(size) {
            return Err(Error::new(EINVAL));
        }
        let bytes = self.read(space)?;
        Ok(bytes
            .chunks_exact(size)
            // SAFETY: each chunk holds `size_of::<T>()` initialised bytes,
            // read unaligned; `T: UserPod` makes any bytes a valid `T`.
            .map(|chunk| unsafe { core::ptr::read_unaligned(chunk.as_ptr().cast::<T>()) })
            .collect())
    }
    /// Copies `data` (at most `len` bytes) to the start of the range; the
    /// pages must be writable.
    pub fn write(&self, space: &mut UserSpace, data: &[u8]) -> Result<()> {
        let data = &data[..data.len().min(self.len)];
        for_each_page(space, self.addr, data.len(), true, |phys, offset, len| {
            // SAFETY: a writable user frame of `space`, reachable through the
            // window; the piece stays within the page and within `data`.
            unsafe { core::ptr::copy_nonoverlapping(data[offset..].as_ptr(), phys_to_virt(phys) as *mut u8, len) }
        })
    }
    /// EFAULT unless every page of the range is mapped writable.
    pub fn check_writable(&self, space: &mut UserSpace) -> Result<()> {
        for_each_page(space, self.addr, self.len, true, |_, _, _| {})
    }
    /// The range as UTF-8 text (EINVAL if it is not).
    pub fn read_str(&self, space: &mut UserSpace) -> Result<String> {
        String::from_utf8(self.read(space)?).map_err(|_| Error::new(EINVAL))
    }
}

/// Pages whose frames [`for_each_page`] keeps from its check for the copy
/// (a user struct spans at most two).
const KEPT_FRAMES: usize = 2;

/// Calls `f(phys, offset, len)` for each page-sized piece of
/// `[virt, virt + len)`: `phys` is where the piece starts physically,
/// `offset` how far into the range it is. Checks every page first, so `f`
/// runs for all pieces or for none.
pub fn for_each_page(
    space: &mut UserSpace,
    virt: VirtAddr,
    len: usize,
    need_write: bool,
    mut f: impl FnMut(u64, usize, usize),
) -> Result<()> {
    let virt = virt.get();
    let end = virt.checked_add(len as u64).ok_or(Error::new(EFAULT))?;
    if end > USER_END {
        return Err(Error::new(EFAULT));
    }
    if len == 0 {
        return Ok(());
    }
    // Every page present (and writable if written) first: a lazy page is
    // faulted in as a user access would (demand zero, copy-on-write); one
    // that cannot be is EFAULT, with nothing copied. The frames of the first
    // pages are kept for the copy unless a fault ran (a fault may change
    // what the pages before it map: the copy then looks them up again).
    let access = if need_write { Access::Write } else { Access::Read };
    let mut kept = [0u64; KEPT_FRAMES];
    let mut faulted = false;
    let mut page = virt & !(PAGE_SIZE - 1);
    let mut index = 0;
    while page < end {
        let at = VirtAddr::new(page);
        let frame = match space.translate(at) {
            Some((frame, flags)) if !need_write || flags.is_writable() => frame,
            _ => {
                faulted = true;
                match space.fault(at, access) {
                    Ok(()) => {}
                    Err(FaultError::FilePage) => {
                        // Fetched by the caller without the lock (`with_space`).
                        space.want(at, access);
                        return Err(Error::new(EFAULT));
                    }
                    Err(_) => return Err(Error::new(EFAULT)),
                }
                space.translate(at).ok_or(Error::new(EFAULT))?.0
            }
        };
        // Only RAM is reachable through the physical window: a user copy
        // from or to device memory (`memory:physical`) is EFAULT.
        if crate::mm::refcount(rmm::PhysAddr::new(frame.get() & !(PAGE_SIZE - 1))) == 0 {
            return Err(Error::new(EFAULT));
        }
        if let Some(slot) = kept.get_mut(index) {
            *slot = frame.get();
        }
        index += 1;
        page += PAGE_SIZE;
    }
    let mut at = virt;
    let mut index = 0;
    while at < end {
        let in_page = at % PAGE_SIZE;
        let frame = match kept.get(index) {
            Some(&frame) if !faulted => frame + in_page,
            _ => space.translate(VirtAddr::new(at)).ok_or(Error::new(EFAULT))?.0.get(),
        };
        let piece = (PAGE_SIZE - in_page).min(end - at);
        f(frame, (at - virt) as usize, piece as usize);
        at += piece;
        index += 1;
    }
    Ok(())
}
