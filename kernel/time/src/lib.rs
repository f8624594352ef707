//! The kernel's clock arithmetic, apart from the clocks themselves so that
//! `cargo test` runs it on the host: [`calendar`] turns the real-time
//! clocks' dates into UNIX seconds and back (the CMOS RTC counts in dates,
//! the PL031 in seconds), [`ticks`] turns a fixed-frequency counter's ticks
//! (the x86 TSC, the Arm generic counter) into nanoseconds and back.
//!
//! Both arches' `arch::time` use it; reading the devices stays there
//! (docs/interrupts.md).
#![no_std]
#![deny(unsafe_code)]

pub mod calendar;
pub mod ticks;

pub use calendar::DateTime;
pub use ticks::TickScale;
