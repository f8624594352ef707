//! Seeded pseudo-random numbers and a checksum, for tests that generate
//! their data or inputs reproducibly from a printed seed: [`Rng`]
//! (xorshift64*), [`ByteStream`] (an endless byte stream from a seed, the
//! same however it is cut into pieces) and [`Fnv1a`] (the 64-bit FNV-1a
//! hash).
//!
//! None of this is cryptographic; it only has to be fast, identical on
//! both arches, and sensitive to any changed, lost or repeated byte.

/// xorshift64* (Vigna, "An experimental exploration of Marsaglia's xorshift
/// generators, scrambled", 2016): one `u64` of state, period 2⁶⁴ − 1.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator for `seed`; seed 0 (a fixed point of xorshift) is
    /// replaced by a constant.
    pub const fn new(seed: u64) -> Self {
        Self { state: if seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { seed } }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True `numerator` times in `denominator`.
    pub fn chance(&mut self, numerator: usize, denominator: usize) -> bool {
        self.below(denominator) < numerator
    }

    /// One element of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// The byte stream of a seed: the little-endian bytes of successive
/// [`Rng::next_u64`] values. [`ByteStream::fill`] continues where the last
/// call stopped, so a writer and a reader that cut the stream into
/// different pieces still see the same bytes.
#[derive(Clone, Debug)]
pub struct ByteStream {
    rng: Rng,
    word: [u8; 8],
    /// Bytes of `word` already handed out.
    used: usize,
}

impl ByteStream {
    pub const fn new(seed: u64) -> Self {
        Self { rng: Rng::new(seed), word: [0; 8], used: 8 }
    }

    /// Fills `out` with the next `out.len()` bytes of the stream.
    pub fn fill(&mut self, mut out: &mut [u8]) {
        while !out.is_empty() {
            if self.used == 8 && out.len() >= 8 {
                // Whole words straight through: the common, fast case.
                let (head, rest) = out.split_at_mut(8);
                head.copy_from_slice(&self.rng.next_u64().to_le_bytes());
                out = rest;
                continue;
            }
            if self.used == 8 {
                self.word = self.rng.next_u64().to_le_bytes();
                self.used = 0;
            }
            let n = out.len().min(8 - self.used);
            let (head, rest) = out.split_at_mut(n);
            head.copy_from_slice(&self.word[self.used..self.used + n]);
            self.used += n;
            out = rest;
        }
    }
}

/// The 64-bit FNV-1a hash (Fowler, Noll, Vo), fed piece by piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv1a(pub u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv1a {
    /// The FNV-1a 64-bit offset basis.
    pub const fn new() -> Self {
        Self(0xCBF2_9CE4_8422_2325)
    }

    /// Hashes `bytes` into the running value.
    pub fn update(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ byte as u64).wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
}
