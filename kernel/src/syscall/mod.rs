//! System-call dispatch: Redox's numbers (and Tessera's additions, see
//! `tessera-abi`) to handlers. Every handler validates its arguments and
//! returns an errno for bad ones; unknown numbers give ENOSYS. User memory
//! is only reached through [`crate::usercopy`].

mod fs;
mod lock;
mod madvise;
mod mm;
mod proc;
mod time;

use tessera_abi::error::{ENOSYS, Error, Result};
use tessera_abi::number::*;

use crate::arch::TrapFrame;

/// Runs `f` with the calling process's address space, under its lock;
/// a user copy that met a file page not fetched yet is retried after the
/// page is fetched (see [`crate::mm::page_fault::with_user_space`]).
fn with_space<R>(f: impl FnMut(&mut crate::mm::UserSpace) -> Result<R>) -> Result<R> {
    crate::mm::page_fault::with_user_space(&crate::process::current().space, f)
}

/// Calls that give memory back (or end a process) run even when the kernel
/// heap has no room left: they must be able to relieve the shortage.
const RELIEVING: [usize; 6] = [SYS_EXIT, SYS_EXIT_THREAD, SYS_CLOSE, SYS_FUNMAP, SYS_KILL, SYS_WAITPID];

/// Runs syscall `number` with `args` for the current process.
///
/// Every call except the [`RELIEVING`] ones first makes sure the kernel
/// heap has room for what one call allocates (`mm::reserve_call_heap`):
/// when memory is so short that it cannot, the call fails with ENOMEM
/// before doing anything, instead of an allocation failing half-way.
pub fn dispatch(number: usize, args: [usize; 6], frame: &mut TrapFrame) -> Result<usize> {
    let [a, b, c, d, e, f] = args;
    if !RELIEVING.contains(&number) {
        crate::mm::reserve_call_heap()?;
    }
    match number {
        SYS_OPEN => fs::open(a, b, c),
        SYS_CLOSE => fs::close(a),
        SYS_READ => fs::read(a, b, c),
        SYS_WRITE => fs::write(a, b, c),
        SYS_LSEEK => fs::lseek(a, b as isize, c),
        SYS_FSTAT => fs::fstat(a, b, c),
        SYS_DUP => fs::dup(a, b, c),
        SYS_DUP2 => fs::dup2(a, b),
        SYS_FCNTL => fs::fcntl(a, b, c),
        SYS_FSYNC => fs::fsync(a),
        SYS_FTRUNCATE => fs::ftruncate(a, b),
        SYS_PIPE2 => fs::pipe2(a, b),
        SYS_UNLINKAT => fs::unlinkat(a, b, c),
        SYS_GETDENTS => fs::getdents(a, b, c, d),
        SYS_FRENAME => fs::frename(a, b, c),
        SYS_EXIT => proc::exit(a),
        SYS_GETPID => proc::getpid(),
        SYS_GETPPID => proc::getppid(),
        SYS_FORK => proc::fork(frame),
        SYS_EXECVE => proc::execve(frame, [a, b, c, d, e, f]),
        SYS_WAITPID => proc::waitpid(a, b, c),
        SYS_KILL => proc::kill(a, b),
        SYS_YIELD => proc::sched_yield(),
        SYS_CLONE_THREAD => proc::clone_thread(a, b, c, d),
        SYS_EXIT_THREAD => proc::exit_thread(a, b),
        SYS_GETTID => proc::gettid(),
        SYS_FUTEX => time::futex(a, b, c, d),
        SYS_FMAP => mm::fmap(a, b, c),
        SYS_FUNMAP => mm::funmap(a, b),
        SYS_MPROTECT => mm::mprotect(a, b, c),
        SYS_MREMAP => mm::mremap(a, b, c, d, e),
        SYS_MADVISE => mm::madvise(a, b, c),
        SYS_MSYNC => mm::msync(a, b, c),
        SYS_CLOCK_GETTIME => time::clock_gettime(a, b),
        SYS_NANOSLEEP => time::nanosleep(a, b),
        _ => Err(Error::new(ENOSYS)),
    }
}
