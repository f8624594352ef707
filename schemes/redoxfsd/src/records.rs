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
use redoxfs::{BLOCK_SIZE, BlockData, BlockTrait, Disk, Node, RecordRaw, Transaction, TreeData, TreePtr};

/// redoxfs's limit for a compressed record: its length prefix is two bytes.
const COMPRESSED_MAX_BYTES: usize = 64 * 1024;

/// What a write did, for the daemon's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Records written from their compressed form without reading them back.
    pub replaced: u64,
    /// Whole records found unchanged by their compressed form.
    pub unchanged: u64,
}

/// Writes `data` at byte `offset` of file `ptr` inside the file's current
/// size (it never grows the file), as `write_node` would: unchanged
/// records stay, changed ones are written copy-on-write, and the node
/// (with `mtime` if it is newer) is written if anything changed.
/// `scratch` holds the compressor's output between calls. Errors are
/// redoxfs's (EIO, ENOSPC).
pub fn write_file<D: Disk>(
    tx: &mut Transaction<D>,
    ptr: TreePtr<Node>,
    offset: u64,
    data: &[u8],
    mtime: (u64, u32),
    scratch: &mut Vec<u8>,
) -> DiskResult<Written> {
    let mut node = tx.read_tree(ptr)?;
    let record_bytes = node.data().record_level().bytes();
    // The write's whole records, compressed on two threads as they are
    // needed (`parallel::in_order`).
    let (first, records) = whole_records(offset, data, record_bytes);
    let make = |i: usize, scratch: &mut Vec<u8>| compress(records[i], scratch).map(|n| scratch[..n].to_vec());
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
                Some(true) => {
                    changed = true;
                    written.replaced += 1;
                }
                Some(false) => written.unchanged += 1,
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

/// Replaces record `index` of `node` by a whole record (`record_bytes`
/// long) whose compressed form is `compressed` (`None`: it did not
/// compress): `Some(true)` written, `Some(false)` unchanged, `None` when
/// this cannot do it as `write_node` would (the caller writes it that way).
fn replace_record<D: Disk>(
    tx: &mut Transaction<D>,
    node: &mut TreeData<Node>,
    index: u64,
    record_bytes: u64,
    compressed: Option<Vec<u8>>,
) -> DiskResult<Option<bool>> {
    let Some(levels) = node.data().level_data() else { return Ok(None) };
    let Some(&old) = usize::try_from(index).ok().and_then(|i| levels.level0.get(i)) else { return Ok(None) };
    let addr = old.addr();
    // A hole reads as zeroes without a disk read; an uncompressed record
    // is read without decompressing: `write_node` is cheap for both.
    if old.is_null() || addr.decomp_level().is_none_or(|level| level.bytes() != record_bytes) {
        return Ok(None);
    }
    // `write_node`'s compressor, its output buffer's size and its rules:
    // compressed only if the result with its two-byte length fits in
    // 64 KiB and in a smaller size class than the record.
    let Some(compressed) = compressed.as_deref() else { return Ok(None) };
    let compressed_len = compressed.len();
    let stored_len = compressed_len + 2;
    let class = addr.level();
    let class_bytes = class.bytes() as usize;
    let same_class = stored_len <= class_bytes && (class_bytes == BLOCK_SIZE as usize || stored_len > class_bytes / 2);
    if stored_len > COMPRESSED_MAX_BYTES || !same_class {
        return Ok(None);
    }
    let Some(mut record) = RecordRaw::empty(class) else { return Ok(None) };
    record[..2].copy_from_slice(&(compressed_len as u16).to_le_bytes());
    record[2..stored_len].copy_from_slice(compressed);
    let stored = tx.read_block(old)?;
    if stored.data()[..] == record[..] {
        return Ok(Some(false));
    }
    // A new place of the same size class, the old one freed at the commit:
    // what `write_node` does with a changed record.
    let new = tx.sync_block(node, BlockData::new(addr, record))?;
    let slot = node.data_mut().level_data_mut().and_then(|levels| levels.level0.get_mut(index as usize));
    *slot.ok_or(DiskError::new(EIO))? = new;
    Ok(Some(true))
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
