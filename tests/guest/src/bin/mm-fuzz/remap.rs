//! The model's prediction of an mremap, following the kernel's order of
//! checks (kernel/mm/src/remap.rs, docs/mm.md): EINVAL for a FIXED target
//! over the old range, EFAULT unless the old range lies in one grant,
//! ENOMEM growing in place without
//! room or MAYMOVE. A file mapping grows through the same lease (the
//! scheme lends the added pages), its new pages unwritten.

use alloc::vec::Vec;

use tessera_runtime::abi::error::{EFAULT, EINVAL, ENOMEM};
use tessera_runtime::mm::{MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE};

use crate::model::{ARENA, Backing, MPage, Model};
use crate::ops::{Want, advance};

/// What a successful mremap does to the model.
pub struct Plan {
    /// Where the result must be (`Want::At(0)`-style arena page), or
    /// anywhere free.
    pub want: Want,
    /// The arena's pages afterwards, the moved pages not yet placed.
    pub after: Vec<Option<MPage>>,
    /// The pages that land at the result (empty: resized in place, already
    /// in `after`).
    pub moved: Vec<MPage>,
}

/// Predicts `mremap(p s, old_len, p target, new_len, flags)` (lengths in
/// pages; the target counts only with FIXED): the plan, or the errno.
pub fn predict(m: &Model, s: usize, old_len: usize, new_len: usize, flags: usize, target: usize) -> Result<Plan, i32> {
    let may_move = flags & MREMAP_MAYMOVE != 0;
    let fixed = flags & MREMAP_FIXED == MREMAP_FIXED;
    let dont_unmap = flags & MREMAP_DONTUNMAP != 0;
    if new_len == 0 || ((fixed || dont_unmap) && !may_move) || (dont_unmap && old_len != new_len) {
        return Err(EINVAL);
    }
    if fixed && target < s + old_len.max(1) && s < target + new_len {
        return Err(EINVAL);
    }
    let (_, grant_end) = m.grant_of(s).ok_or(EFAULT)?;
    if s + old_len > grant_end {
        return Err(EFAULT);
    }
    let first = m.pages[s].ok_or(EFAULT)?;
    let mut after = m.pages.clone();
    let place = |after: &mut Vec<Option<MPage>>, moved: Vec<MPage>| {
        if fixed {
            for (k, page) in moved.into_iter().enumerate() {
                after[target + k] = Some(page);
            }
            Plan { want: Want::At(target), after: after.clone(), moved: Vec::new() }
        } else {
            Plan { want: Want::Anywhere, after: after.clone(), moved }
        }
    };
    if old_len == 0 {
        // A second mapping of a shared object's pages.
        let Backing::Object { .. } = first.backing else { return Err(EINVAL) };
        if !may_move || dont_unmap {
            return Err(EINVAL);
        }
        let pages = (0..new_len).map(|k| MPage { prot: first.prot, backing: advance(first.backing, k) }).collect();
        if fixed {
            after[target..target + new_len].fill(None);
        }
        return Ok(place(&mut after, pages));
    }
    let extended = |last: MPage, count: usize| -> Vec<MPage> {
        (1..=count)
            .map(|k| MPage {
                prot: last.prot,
                backing: match advance(last.backing, k) {
                    Backing::Anon(_) => Backing::Anon(0),
                    Backing::File { obj, lease, idx, shared, writable_fd, .. } => {
                        Backing::File { obj, lease, idx, shared, own: None, writable_fd }
                    }
                    other => other,
                },
            })
            .collect()
    };
    if !fixed && !dont_unmap {
        if new_len <= old_len {
            after[s + new_len..s + old_len].fill(None);
            return Ok(Plan { want: Want::At(s), after, moved: Vec::new() });
        }
        let grown = (s + old_len, s + new_len);
        if s + old_len == grant_end && m.free(grown.0, grown.1) {
            let last = m.pages[s + old_len - 1].ok_or(EFAULT)?;
            for (k, page) in extended(last, new_len - old_len).into_iter().enumerate() {
                after[grown.0 + k] = Some(page);
            }
            return Ok(Plan { want: Want::At(s), after, moved: Vec::new() });
        }
        if !may_move {
            return Err(ENOMEM);
        }
    }
    let kept = old_len.min(new_len);
    let mut moved: Vec<MPage> = m.pages[s..s + kept].iter().flatten().copied().collect();
    let last = m.pages[s + kept - 1].ok_or(EFAULT)?;
    moved.extend(extended(last, new_len - kept));
    if fixed {
        after[target..target + new_len].fill(None);
    }
    after[s..s + old_len].fill(None);
    if dont_unmap {
        // The old range stays mapped and empty: private pages read zero,
        // shared ones show the object again, file pages the file (a
        // private copy moved away).
        for k in 0..old_len {
            let mut page = m.pages[s + k].ok_or(EFAULT)?;
            match &mut page.backing {
                Backing::Anon(v) => *v = 0,
                Backing::File { own, .. } => *own = None,
                _ => {}
            }
            after[s + k] = Some(page);
        }
    }
    debug_assert!(target + new_len <= ARENA);
    Ok(place(&mut after, moved))
}
