//! Reading whole program files through the scheme layer (for `execve` and
//! for starting init).

use alloc::vec;
use alloc::vec::Vec;

use tessera_abi::error::{EFBIG, Result};
use tessera_abi::flag::O_RDONLY;

use crate::{exec, scheme};

/// The bytes of the file at `path` (`scheme:path`), up to the program size
/// limit.
pub fn read_program(path: &str) -> Result<Vec<u8>> {
    let (scheme, rest) = scheme::resolve(path)?;
    let id = scheme.open(rest, O_RDONLY)?;
    let mut data = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let result = loop {
        match scheme.read(id, &mut chunk) {
            Ok(0) => break Ok(()),
            Ok(n) if data.len() + n > exec::MAX_PROGRAM_BYTES => break Err(tessera_abi::Error::new(EFBIG)),
            Ok(n) => data.extend_from_slice(&chunk[..n]),
            Err(e) => break Err(e),
        }
    };
    let _ = scheme.close(id);
    result.map(|()| data)
}
