//! `true`: does nothing and exits with 0.
#![no_std]
#![no_main]

tessera_runtime::entry!(main);

fn main(_args: tessera_runtime::Args) -> i32 {
    coreutils::EXIT_SUCCESS
}
