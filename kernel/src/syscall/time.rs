//! Time calls. The clock sources arrive with the timer work; until then
//! both calls say so with ENOSYS instead of returning a wrong time.

use tessera_abi::error::{ENOSYS, Error, Result};

pub fn clock_gettime(_clock: usize, _out: usize) -> Result<usize> {
    Err(Error::new(ENOSYS))
}

pub fn nanosleep(_request: usize, _remaining: usize) -> Result<usize> {
    Err(Error::new(ENOSYS))
}
