//! The console daemon's line discipline, kept apart from the daemon
//! (`main.rs`) so the host can test it: [`line::Editor`] turns typed bytes
//! into echo, finished lines and the Ctrl-C / Ctrl-D events, and
//! [`cooked::Cooked`] holds finished input until a reader takes it.
//! The design (why a daemon, what `console:` offers) is in
//! `docs/console.md`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod cooked;
pub mod line;
