//! Host tests: the real operations over a fake page table and a fake frame
//! store, checking what each leaves behind.

mod advice;
mod around;
mod cow;
mod errors;
mod fake;
mod file;
mod grant_map;
mod harness;
mod invalidate;
mod limits;
mod misc;
mod probe;
mod random;
mod remap;
mod split;
mod sweep;
mod tags;
mod write_around;
