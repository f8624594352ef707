//! Writing a file's bytes into RedoxFS with less work than `write_node`
//! for whole records, and the same result on the disk.
//!
//! redoxfs 0.9.0's `write_node` rewrites a record by reading it back
//! first: the stored record is lz4-decompressed into 128 KiB, compared with
//! the new bytes and, if they differ, merged, compressed again, written to
//! a new place (copy-on-write) and its pointer put in the node. For a write
//! that covers the whole record the old bytes are needed only for the
//! comparison, and decompressing them is the slow part (lz4_flex copies an
//! overlapping match a byte at a time: a file with a short repeating
//! pattern costs a byte loop over the whole record).
//!
//! [`write_file`] compresses the new record first, exactly as `write_node`
//! does (the same `lz4_flex::block::compress_into`, the same two-byte
//! length in front, the same size class), and compares the *compressed*
//! bytes with the stored ones: lz4 output is a function of its input, so
//! equal stored bytes mean an unchanged record (nothing is written, as
//! with `write_node`); different ones are written with redoxfs's own
//! `sync_block` (a new place of the same size class, the old one freed
//! when the transaction commits) and the node's pointer is updated. The
//! record, its place, its hash and the node come out as `write_node` would
//! leave them (a host test compares the two disks byte for byte).
//!
//! The compare starts with the hash: the node's pointer to the stored
//! block holds its seahash (redoxfs checks it on every read), and the
//! thread that compresses a record also hashes its new block. A different
//! hash is a changed record, written without reading the stored one back
//! (a read is a copy and a hash of the block in `read_block`, and the
//! compare another pass); only an equal hash reads it and compares the
//! bytes.
//!
//! Only records this can do as `write_node` would go this way: a whole
//! record (128 KiB at a record boundary) of a file that keeps its data in
//! records, among the first 128 (their pointers live in the node itself),
//! stored compressed, whose new compressed form has the same size class.
//! Everything else (a partial record, a hole, an uncompressed record, a
//! size class that changes, inline data, a record behind an indirect
//! block) goes through `write_node_inner` as before. A stored record that
//! compresses differently (another lz4 version wrote it) is only rewritten
//! with the same bytes: never wrong, once.

use alloc::vec::Vec;

use redox_syscall_07::error::{EIO, Error as DiskError, Result as DiskResult};
use redoxfs::{
    BLOCK_SIZE, BlockData, BlockLevel, BlockTrait, Disk, Node, RECORD_SIZE, RecordRaw, Transaction, TreeData, TreePtr,
};

/// redoxfs's limit for a compressed record: its length prefix is two bytes.
const COMPRESSED_MAX_BYTES: usize = 64 * 1024;

/// What a write did, for the daemon's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Records written from their compressed form without reading them back.
    pub replaced: u64,
    /// Whole records found unchanged by their compressed form.
    pub unchanged: u64,
    /// Whole records whose stored block was read back to compare (the new
    /// block hashed as the stored one).
    pub read_back: u64,
}

/// A whole record's new block as `write_node` would store it in the size
/// class of the stored one, and its seahash.
struct NewBlock {
    bytes: Vec<u8>,
    hash: u64,
}

/// Writes `data` at byte `offset` of file `ptr` inside the file's current
/// size (it never grows the file), as `write_node` would: unchanged
/// records stay, changed ones are written copy-on-write, and the node
/// (with `mtime` if it is newer) is written if anything changed.
/// `scratch` holds the compressor's output between calls (this thread's,
/// then the helper's: `parallel::in_order`). Errors are
/// redoxfs's (EIO, ENOSPC).
pub fn write_file<D: Disk>(
    tx: &mut Transaction<D>,
    ptr: TreePtr<Node>,
    offset: u64,
    data: &[u8],
    mtime: (u64, u32),
    scratch: &mut [Vec<u8>; 2],
) -> DiskResult<Written> {
    let mut node = tx.read_tree(ptr)?;
    let record_bytes = node.data().record_level().bytes();
    // The write's whole records, compressed and hashed on two threads as
    // they are needed (`parallel::in_order`), in the size class each is
    // stored in now.
    let (first, records) = whole_records(offset, data, record_bytes);
    let classes: Vec<Option<BlockLevel>> =
        (0..records.len()).map(|i| stored_class(&node, first + i as u64, record_bytes)).collect();
    let make = |i: usize, scratch: &mut Vec<u8>| {
        let class = classes[i]?;
        let compressed = compress(records[i], scratch)?;
        new_block(&scratch[..compressed], class)
    };
    let mut written = Written::default();
    let mut changed = false;
    crate::parallel::in_order(records.len(), scratch, make, |compressed_record| -> DiskResult<()> {
        let mut at = 0;
        while at < data.len() {
            let pos = offset + at as u64;
            let len = (data.len() - at).min((record_bytes - pos % record_bytes) as usize);
            let piece = &data[at..at + len];
            let whole = pos.is_multiple_of(record_bytes) && len as u64 == record_bytes;
            let index = pos / record_bytes;
            let replaced = match whole {
                true => {
                    replace_record(tx, &mut node, index, record_bytes, compressed_record((index - first) as usize))?
                }
                false => None,
            };
            match replaced {
                Some((true, read_back)) => {
                    changed = true;
                    written.replaced += 1;
                    written.read_back += u64::from(read_back);
                }
                Some((false, _)) => {
                    written.unchanged += 1;
                    written.read_back += 1;
                }
                None => {
                    let mut end = pos;
                    changed |= tx.write_node_inner(&mut node, &mut end, piece)?;
                }
            }
            at += len;
        }
        Ok(())
    })?;
    if changed {
        let old = node.data().mtime();
        if mtime.0 > old.0 || (mtime.0 == old.0 && mtime.1 > old.1) {
            node.data_mut().set_mtime(mtime.0, mtime.1);
        }
        tx.sync_tree(node)?;
    }
    Ok(written)
}

/// The whole records among `data` written at byte `offset`: the index of
/// the first, and their bytes.
fn whole_records(offset: u64, data: &[u8], record_bytes: u64) -> (u64, Vec<&[u8]>) {
    let first = offset.div_ceil(record_bytes);
    let skip = ((first * record_bytes - offset) as usize).min(data.len());
    (first, data[skip..].chunks_exact(record_bytes as usize).collect())
}

/// `bytes` compressed as `write_node` compresses a record (its
/// `lz4_flex` call and output buffer) into `scratch`: the compressed
/// length, `None` if it failed.
fn compress(bytes: &[u8], scratch: &mut Vec<u8>) -> Option<usize> {
    scratch.resize(lz4_flex::block::get_maximum_output_size(bytes.len()), 0);
    lz4_flex::block::compress_into(bytes, scratch).ok()
}

/// The size class record `index` of `node` is stored in, if a whole new
/// record (`record_bytes` long) may replace it by its compressed form:
/// one the node points at itself, stored compressed. (A hole reads as
/// zeroes without a disk read and an uncompressed record is read without
/// decompressing: `write_node` is cheap for both.)
fn stored_class(node: &TreeData<Node>, index: u64, record_bytes: u64) -> Option<BlockLevel> {
    let levels = node.data().level_data()?;
    let old = levels.level0.get(usize::try_from(index).ok()?)?;
    let addr = old.addr();
    if old.is_null() || addr.decomp_level().is_none_or(|level| level.bytes() != record_bytes) {
        return None;
    }
    Some(addr.level())
}

/// The block `write_node` stores for a record whose compressed form is
/// `compressed`, in size class `class`, and its hash: `None` if
/// `write_node` would not store it so (its rules: compressed only if the
/// result with its two-byte length fits in 64 KiB and in a smaller size
/// class than the record; here, the same class as before).
fn new_block(compressed: &[u8], class: BlockLevel) -> Option<NewBlock> {
    let stored_len = compressed.len() + 2;
    let class_bytes = class.bytes() as usize;
    let same_class = stored_len <= class_bytes && (class_bytes == BLOCK_SIZE as usize || stored_len > class_bytes / 2);
    if stored_len > COMPRESSED_MAX_BYTES || !same_class {
        return None;
    }
    let mut bytes = alloc::vec![0u8; class_bytes];
    bytes[..2].copy_from_slice(&(compressed.len() as u16).to_le_bytes());
    bytes[2..stored_len].copy_from_slice(compressed);
    let hash = seahash::hash(&bytes);
    Some(NewBlock { bytes, hash })
}

/// Replaces record `index` of `node` by `new` (a whole record in the size
/// class [`stored_class`] gave; `None`: it cannot go by its compressed
/// form): `Some((true, read))` written, `Some((false, true))` unchanged,
/// `None` when this cannot do it as `write_node` would (the caller writes
/// it that way). `read`: the stored block was read back to compare, which
/// only an equal hash needs.
fn replace_record<D: Disk>(
    tx: &mut Transaction<D>,
    node: &mut TreeData<Node>,
    index: u64,
    record_bytes: u64,
    new: Option<NewBlock>,
) -> DiskResult<Option<(bool, bool)>> {
    let (Some(new), Some(class)) = (new, stored_class(node, index, record_bytes)) else { return Ok(None) };
    let Some(old) = node.data().level_data().and_then(|levels| levels.level0.get(index as usize)).copied() else {
        return Ok(None);
    };
    if class.bytes() != new.bytes.len() as u64 {
        return Ok(None);
    }
    let read = new.hash == old.hash();
    if read && tx.read_block(old)?.data()[..] == new.bytes[..] {
        return Ok(Some((false, true)));
    }
    // A new place of the same size class, the old one freed at the commit:
    // what `write_node` does with a changed record. The block goes as it
    // was built (`Built`), not copied into a zeroed `RecordRaw` first.
    let written = tx.sync_block(node, BlockData::new(old.addr(), Built(new.bytes)))?;
    // SAFETY: `Built` and `RecordRaw` are both a record's bytes; a pointer
    // carries only an address and a hash, which do not depend on the type.
    let written = unsafe { written.cast::<RecordRaw>() };
    let slot = node.data_mut().level_data_mut().and_then(|levels| levels.level0.get_mut(index as usize));
    *slot.ok_or(DiskError::new(EIO))? = written;
    Ok(Some((true, read)))
}

/// A record's block as [`new_block`] built it, handed to redoxfs's
/// `sync_block` as it is: a `RecordRaw` would be a zeroed allocation and a
/// copy of the block more per record on the daemon's one thread.
struct Built(Vec<u8>);

// SAFETY: as redoxfs's `RecordRaw`: an empty block of a record's level is
// that many zero bytes, and no other level has one.
unsafe impl BlockTrait for Built {
    fn empty(level: BlockLevel) -> Option<Self> {
        (level.bytes() <= RECORD_SIZE).then(|| Built(alloc::vec![0; level.bytes() as usize]))
    }
}

impl core::ops::Deref for Built {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_records_of_a_write_and_no_piece_of_one() {
        const R: u64 = 4096;
        // Bytes 1000.. of a file: whole records 1 and 2, pieces of 0 and 3.
        let data: Vec<u8> = (0..3 * R as usize).map(|i| (i / 7) as u8).collect();
        let (first, records) = whole_records(1000, &data, R);
        let record = |i: u64| &data[(i * R - 1000) as usize..][..R as usize];
        assert_eq!((first, records), (1, vec![record(1), record(2)]));
        assert_eq!(whole_records(0, &data[..R as usize + 5], R), (0, vec![&data[..R as usize]]));
        assert_eq!(whole_records(5, &data[..100], R).1.len(), 0, "inside one record: none");
    }
}
