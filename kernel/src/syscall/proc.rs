//! Process and thread calls: exit, getpid, getppid, fork, execve, waitpid,
//! kill, yield, clone_thread, exit_thread, gettid.

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use tessera_abi::error::{E2BIG, Error, Result};
use tessera_abi::wait;

use super::with_space;
use crate::arch::TrapFrame;
use crate::usercopy::UserSlice;
use crate::{exec, process, sched};

/// Most argv or envp entries `execve` takes.
const MAX_ARGS: usize = 4096;

pub fn exit(status: usize) -> Result<usize> {
    process::exit_current(wait::exited(status))
}

pub fn getpid() -> Result<usize> {
    Ok(process::current().pid)
}

pub fn gettid() -> Result<usize> {
    Ok(sched::current().tid)
}

pub fn clone_thread(entry: usize, stack_top: usize, arg: usize, tls: usize) -> Result<usize> {
    process::clone_thread(entry, stack_top, arg, tls)
}

pub fn exit_thread(status: usize, clear_tid_ptr: usize) -> Result<usize> {
    process::exit_thread(status, clear_tid_ptr)
}

pub fn getppid() -> Result<usize> {
    Ok(process::current().ppid.load(Ordering::Relaxed))
}

pub fn fork(frame: &TrapFrame) -> Result<usize> {
    process::fork(frame)
}

pub fn sched_yield() -> Result<usize> {
    sched::yield_now();
    Ok(0)
}

pub fn kill(pid: usize, signal: usize) -> Result<usize> {
    process::kill(pid, signal).map(|()| 0)
}

pub fn waitpid(pid: usize, status_ptr: usize, options: usize) -> Result<usize> {
    let status_out = (status_ptr != 0).then(|| UserSlice::new(status_ptr, 8)).transpose()?;
    // EFAULT before a child is reaped, not after: its status is not lost.
    if let Some(out) = status_out {
        with_space(|space| out.check_writable(space))?;
    }
    match process::waitpid(pid, options)? {
        None => Ok(0),
        Some((child, status)) => {
            if let Some(out) = status_out {
                with_space(|space| out.write(space, &status.to_le_bytes()))?;
            }
            Ok(child)
        }
    }
}

/// Reads an array of `count` `[ptr, len]` pairs and the strings they name.
/// E2BIG once the strings add up to more than a new stack takes: checked
/// before each is copied, so a huge length never reaches the kernel heap.
fn read_strings(space: &mut crate::mm::UserSpace, array: usize, count: usize) -> Result<Vec<String>> {
    if count > MAX_ARGS {
        return Err(Error::new(E2BIG));
    }
    let table: Vec<[usize; 2]> = UserSlice::new(array, count * 16)?.read_values(space)?;
    let mut total_bytes = 0usize;
    table
        .into_iter()
        .map(|[ptr, len]| {
            total_bytes = total_bytes.saturating_add(len).saturating_add(1);
            if total_bytes > exec::MAX_ARGS_BYTES {
                return Err(Error::new(E2BIG));
            }
            UserSlice::new(ptr, len)?.read_str(space)
        })
        .collect()
}

/// `execve(path_ptr, path_len, argv_ptr, argc, envp_ptr, envc)`.
pub fn execve(
    frame: &mut TrapFrame,
    [path_ptr, path_len, argv_ptr, argc, envp_ptr, envc]: [usize; 6],
) -> Result<usize> {
    if path_len > 4096 {
        return Err(Error::new(tessera_abi::error::ENAMETOOLONG));
    }
    // Retried after a lent page of the strings is fetched (`with_space`).
    let (path, argv, envp, inject) = with_space(|space| {
        let path = UserSlice::new(path_ptr, path_len)?.read_str(space)?;
        Ok((path, read_strings(space, argv_ptr, argc)?, read_strings(space, envp_ptr, envc)?, space.inject.clone()))
    })?;
    let program = crate::loader::ProgramFile::open(&path)?;
    let image = exec::load(&program, &argv, &envp, inject)?;
    // Leases of its pages keep the file open; this handle can go.
    drop(program);
    // The point of no return: other threads end, then the space goes.
    process::stop_siblings()?;
    let name = path.rsplit(['/', ':']).next().unwrap_or(&path);
    *frame = TrapFrame::new_user(image.entry, image.stack_pointer);
    process::replace_space(image.space, String::from(name));
    Ok(0)
}
