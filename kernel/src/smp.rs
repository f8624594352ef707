//! Bringing up the other CPUs: each gets a kernel stack and is started by
//! the arch code (x86_64: INIT/STARTUP IPIs and a real-mode trampoline;
//! aarch64: PSCI CPU_ON), sets up its own traps, interrupt controller and
//! timer, and runs the scheduler loop on the shared run queue forever.

use rmm::PAGE_SIZE;
use tessera_bootinfo::{KernelArgs, phys_to_virt};

use crate::config::MAX_CPUS;
use crate::{TICK_NS, arch, mm, println, sched};

/// Pages of each secondary CPU's scheduler-loop stack.
const STACK_PAGES: usize = 4;

/// Starts every CPU the firmware lists; returns how many run (with this one).
pub fn start_secondary_cpus(args: &KernelArgs) -> usize {
    let (ids, me) = match arch::cpu_ids(args) {
        Ok(found) => found,
        Err(why) => {
            println!("smp: cannot list CPUs ({why}); running on one");
            return 1;
        }
    };
    let boot_root = mm::boot_identity_root(&arch::identity_ranges(args));
    let mut running = 1;
    for &id in ids.iter().filter(|&&id| id != me) {
        if running == MAX_CPUS {
            println!("smp: more than {MAX_CPUS} CPUs; the rest stay off");
            break;
        }
        let Some(stack) = mm::allocate_contiguous(STACK_PAGES) else {
            println!("smp: no memory for a CPU stack");
            break;
        };
        let top = phys_to_virt(stack.get()) + STACK_PAGES as u64 * PAGE_SIZE;
        match arch::start_cpu(id, running, top, boot_root) {
            Ok(()) => running += 1,
            Err(why) => println!("smp: CPU {id:#x}: {why}"),
        }
    }
    println!("smp: {running} of {} CPUs running", ids.len());
    running
}

/// A secondary CPU, after its arch set-up: joins the scheduler.
pub fn secondary_main(index: usize) -> ! {
    mm::activate_kernel_only();
    if let Err(why) = arch::irq::init_cpu() {
        panic!("CPU {index}: interrupt controller: {why}");
    }
    // IPIs can arrive from here on: the CPU joins the TLB shootdowns.
    mm::tlb::cpu_ready();
    arch::irq::start_timer(TICK_NS);
    sched::run(|| false);
    unreachable!("a secondary CPU's scheduler never finishes")
}
