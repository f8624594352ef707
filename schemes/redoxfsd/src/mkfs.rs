//! Formatting a device as an empty RedoxFS (`redoxfsd --mkfs`).
//!
//! redoxfs 0.9.0 has `FileSystem::create` only with its `std` feature (it
//! needs a random uuid and key material), so the daemon lays out the same
//! first generation itself with the crate's public types, as `create`
//! does without a password or a reserved area:
//!
//! ```text
//! block 0..256      header ring: all zeroed, then generation 1 in block 1
//! block 257         the tree's root list (empty)
//! block 258         the allocation log: one entry, blocks 259.. free
//! then              the root directory's node (allocated by redoxfs, tree id 1)
//! ```
//! and then opens it with redoxfs and lets it add the root directory.

use redox_syscall_07::error::{EIO, ENOSPC, Error as DiskError, Result as DiskResult};
use redoxfs::{
    AllocEntry, AllocList, BLOCK_SIZE, BlockAddr, BlockData, BlockLevel, BlockMeta, BlockTrait, FileSystem,
    HEADER_RING, Header, Node, SIGNATURE, TreeData, TreeList, VERSION,
};

use crate::disk::Device;

/// Where the tree's root list goes.
const TREE_BLOCK: u64 = HEADER_RING + 1;
/// Where the first allocation log block goes.
const ALLOC_BLOCK: u64 = HEADER_RING + 2;
/// The first block handed out.
const FIRST_FREE_BLOCK: u64 = HEADER_RING + 3;

/// Writes an empty filesystem on `disk` (all of it) and opens it; `now` is
/// the root's creation time and seeds the uuid. Errors (redoxfs's errno
/// numbers, Linux's): ENOSPC a device too small, EIO a failed write.
pub fn format<D: Device>(mut disk: D, now: (u64, u32)) -> DiskResult<FileSystem<D>> {
    let blocks = disk.size()? / BLOCK_SIZE;
    if blocks < FIRST_FREE_BLOCK + 1 {
        return Err(DiskError::new(ENOSPC));
    }
    // A header left from an earlier filesystem would win if its generation
    // were higher: clear the ring.
    let zero = [0u8; BLOCK_SIZE as usize];
    for block in 0..HEADER_RING {
        write(&mut disk, block, &zero)?;
    }

    // SAFETY: a fixed block above, inside the device (checked), level 0 as
    // the list is.
    let tree_addr = unsafe { BlockAddr::new(TREE_BLOCK, BlockMeta::default()) };
    // SAFETY: as for the tree's block.
    let alloc_addr = unsafe { BlockAddr::new(ALLOC_BLOCK, BlockMeta::default()) };
    let tree = BlockData::new(tree_addr, TreeList::empty(BlockLevel::default()).ok_or(DiskError::new(EIO))?);
    let mut alloc = BlockData::new(alloc_addr, AllocList::empty(BlockLevel::default()).ok_or(DiskError::new(EIO))?);
    let free = blocks - FIRST_FREE_BLOCK;
    alloc.data_mut().entries[0] = AllocEntry::new(FIRST_FREE_BLOCK, free as i64);
    write(&mut disk, TREE_BLOCK, tree.data())?;
    write(&mut disk, ALLOC_BLOCK, alloc.data())?;

    let mut header = Header {
        signature: *SIGNATURE,
        version: VERSION.into(),
        uuid: uuid(now),
        size: (blocks * BLOCK_SIZE).into(),
        ..Header::default()
    };
    header.tree = tree.create_ptr();
    header.alloc = alloc.create_ptr();
    // Generation 1 (hash computed), in its ring slot.
    let generation = header.update(None);
    write(&mut disk, generation % HEADER_RING, &header)?;

    let mut fs = FileSystem::open(disk, None, Some(generation % HEADER_RING), false)?;
    fs.tx(|tx| {
        let mut root = Node::new(Node::MODE_DIR | 0o755, 0, 0, now.0, now.1);
        root.set_links(1);
        let root = BlockData::new(BlockAddr::null(BlockMeta::default()), root);
        // The allocation is charged to a scratch node (redoxfs's own
        // allocation context is not public); the root counts itself.
        let mut scratch = TreeData::new(0, Node::default());
        let root_ptr = tx.sync_block(&mut scratch, root)?;
        // redoxfs finds the root as tree id 1: the first slot.
        match tx.insert_tree(root_ptr)?.id() {
            1 => Ok(()),
            _ => Err(DiskError::new(EIO)),
        }
    })?;
    fs.cleanup()?;
    Ok(fs)
}

/// Writes all of `data` at `block`. EIO for a short write.
fn write<D: Device>(disk: &mut D, block: u64, data: &[u8]) -> DiskResult<()> {
    // SAFETY: formatting owns the whole device; nothing else reads it yet.
    match unsafe { disk.write_at(block, data) }? {
        n if n == data.len() => Ok(()),
        _ => Err(DiskError::new(EIO)),
    }
}

/// A uuid from the time (there is no random source here): unique enough to
/// tell two images apart, which is all redoxfs uses it for.
fn uuid((secs, nsecs): (u64, u32)) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&secs.to_le_bytes());
    out[8..12].copy_from_slice(&nsecs.to_le_bytes());
    out[12..].copy_from_slice(b"TSRA");
    out
}
