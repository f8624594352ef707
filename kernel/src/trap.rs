//! What the arch trap code hands to the rest of the kernel (through the
//! hooks registered in `arch::hooks`): syscalls, faults in user mode, and
//! interrupts. A page fault goes to `mm::page_fault` first. Before
//! returning to user mode, a process that was killed meanwhile is ended
//! here.

use crate::arch::{Access, FaultInfo, TrapFrame};
use crate::{println, process, sched, syscall};

/// A `syscall` / `svc #0` from user mode.
pub fn syscall(frame: &mut TrapFrame) {
    let (number, args) = frame.syscall();
    let result = syscall::dispatch(number, args, frame);
    frame.set_return(tessera_abi::Error::mux(result));
    process::exit_if_killed();
}

/// A fault in user mode: a page fault the address space resolves
/// ([`crate::mm::page_fault::handle_user_fault`]: demand zero, copy-on-write,
/// stack growth, a lent file page) resumes the thread; anything else
/// kills the process with the fault's signal, and the kernel goes on. A
/// fault that needs memory when there is none kills the process with
/// SIGKILL and says so.
pub fn user_fault(frame: &mut TrapFrame, info: FaultInfo) {
    let pid = process::current().pid;
    let mut info = info;
    if let (Some(address), Some(access)) = (info.address, info.access) {
        let access = match access {
            Access::Read => tessera_mm::Access::Read,
            Access::Write => tessera_mm::Access::Write,
            Access::Execute => tessera_mm::Access::Exec,
        };
        let space = &process::current().space;
        match crate::mm::page_fault::handle_user_fault(space, rmm::VirtAddr::new(address), access) {
            Ok(()) => {
                process::exit_if_killed();
                return;
            }
            Err(tessera_mm::FaultError::OutOfMemory) => {
                println!(
                    "kernel: process {pid} killed: out of memory resolving a page fault at {address:#x} (pc {:#x})",
                    frame.instruction_pointer()
                );
                process::exit_current(tessera_abi::wait::signaled(tessera_abi::signal::SIGKILL));
            }
            // A file page that cannot be had (past the end of the file, its
            // scheme gone) is SIGBUS too.
            Err(tessera_mm::FaultError::Bus | tessera_mm::FaultError::FilePage) => {
                info.signal = tessera_abi::signal::SIGBUS
            }
            _ => {}
        }
    }
    match info.address {
        Some(addr) => println!(
            "kernel: process {pid} killed by signal {}: {} at {addr:#x} (pc {:#x})",
            info.signal,
            info.description,
            frame.instruction_pointer()
        ),
        None => println!(
            "kernel: process {pid} killed by signal {}: {} (pc {:#x})",
            info.signal,
            info.description,
            frame.instruction_pointer()
        ),
    }
    process::exit_current(tessera_abi::wait::signaled(info.signal))
}

/// A device interrupt or IPI. The timer tick preempts user code (a time
/// slice is one tick); kernel code is never preempted (it runs with
/// interrupts off except in the idle wait).
pub fn interrupt(frame: &mut TrapFrame, id: u32) {
    use crate::arch::irq;
    if id == irq::TIMER_VECTOR {
        irq::timer_tick_rearm();
        // Before a possible switch: the next thread must get ticks too.
        irq::end_of_interrupt(id);
        sched::tick(frame.is_user());
        if frame.is_user() {
            sched::yield_now();
            process::exit_if_killed();
        }
        return;
    }
    match irq::IpiKind::from_id(id) {
        Some(irq::IpiKind::Reschedule) => sched::reschedule_ipi(),
        // A driver's interrupt (or a stray one): counted, its waiters woken.
        None if crate::irq::deliver(id) => {}
        // A TLB shootdown was served by the arch entry already (the
        // `tlb_shootdown` hook); it only needs its end of interrupt.
        Some(irq::IpiKind::TlbShootdown) => {}
        None => println!("kernel: unexpected interrupt {id:#x} at pc {:#x}", frame.instruction_pointer()),
    }
    // A reschedule IPI needs no more: the idle loop looks for work on return.
    irq::end_of_interrupt(id);
    if frame.is_user() {
        process::exit_if_killed();
    }
}
