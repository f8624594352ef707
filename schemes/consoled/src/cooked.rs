//! Finished input waiting for readers: whole lines and end-of-input marks,
//! in the order typed. A read takes at most one line (as a terminal in
//! canonical mode does), or the rest of a line a shorter read left; an
//! end-of-input mark makes exactly one read return 0.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// At most this many bytes of typed-ahead lines are kept; a line that
/// would go beyond is dropped.
pub const COOKED_MAX_BYTES: usize = 64 * 1024;

/// One piece of finished input.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Chunk {
    /// A line (or what a short read left of it).
    Line(Vec<u8>),
    /// Ctrl-D on an empty line.
    Eof,
}

/// The queue of finished input.
#[derive(Debug, Default)]
pub struct Cooked {
    chunks: VecDeque<Chunk>,
    bytes: usize,
}

impl Cooked {
    /// Adds a finished line; false if the queue is full (the line is
    /// dropped).
    pub fn push_line(&mut self, line: Vec<u8>) -> bool {
        if self.bytes + line.len() > COOKED_MAX_BYTES {
            return false;
        }
        self.bytes += line.len();
        self.chunks.push_back(Chunk::Line(line));
        true
    }

    /// Adds an end-of-input mark.
    pub fn push_eof(&mut self) {
        self.chunks.push_back(Chunk::Eof);
    }

    /// Drops everything typed ahead (Ctrl-C).
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.bytes = 0;
    }

    /// Whether a read would get something (bytes or an end of input).
    pub fn ready(&self) -> bool {
        !self.chunks.is_empty()
    }

    /// Takes what one read of at most `len` bytes gets: `Some(bytes)`
    /// (empty at an end-of-input mark), or `None` if nothing is ready.
    pub fn take(&mut self, len: usize) -> Option<Vec<u8>> {
        match self.chunks.front_mut()? {
            Chunk::Eof => {
                self.chunks.pop_front();
                Some(Vec::new())
            }
            Chunk::Line(line) if line.len() <= len => {
                let line = core::mem::take(line);
                self.chunks.pop_front();
                self.bytes -= line.len();
                Some(line)
            }
            Chunk::Line(line) => {
                let rest = line.split_off(len);
                let head = core::mem::replace(line, rest);
                self.bytes -= head.len();
                Some(head)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_read_and_one_zero_per_eof() {
        let mut cooked = Cooked::default();
        assert_eq!(cooked.take(10), None);
        cooked.push_line(b"ls\n".to_vec());
        cooked.push_line(b"cat file\n".to_vec());
        cooked.push_eof();
        cooked.push_line(b"x\n".to_vec());
        assert!(cooked.ready());
        assert_eq!(cooked.take(100).as_deref(), Some(&b"ls\n"[..]));
        assert_eq!(cooked.take(4).as_deref(), Some(&b"cat "[..]));
        assert_eq!(cooked.take(100).as_deref(), Some(&b"file\n"[..]));
        assert_eq!(cooked.take(100).as_deref(), Some(&b""[..]));
        assert_eq!(cooked.take(100).as_deref(), Some(&b"x\n"[..]));
        assert_eq!(cooked.take(100), None);
        assert_eq!(cooked.bytes, 0);
    }

    #[test]
    fn a_full_queue_drops_lines() {
        let mut cooked = Cooked::default();
        assert!(cooked.push_line(alloc::vec![b'a'; COOKED_MAX_BYTES]));
        assert!(!cooked.push_line(b"b\n".to_vec()));
        cooked.clear();
        assert!(!cooked.ready());
        assert!(cooked.push_line(b"b\n".to_vec()));
    }
}
