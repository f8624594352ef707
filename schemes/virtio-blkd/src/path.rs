//! The paths of `disk:`.
//!
//! | path | what |
//! |---|---|
//! | `` (or `/`) | the listing: one text line per disk and per partition |
//! | `stats` | per disk: requests, interrupts, errors (text) |
//! | `N` | disk N, whole (Redox's naming: disks numbered from 0 in `pci:` order) |
//! | `NpM` | partition M of disk N: GPT entry M (1-based) |
//!
//! Numbers are decimal without sign or leading zeros (except `0` itself).

/// What a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    List,
    Stats,
    Disk { disk: usize, part: Option<u32> },
}

/// Parses a `disk:` path; `None` for anything else (ENOENT).
pub fn parse(path: &str) -> Option<Target> {
    let path = path.strip_prefix('/').unwrap_or(path);
    match path {
        "" => return Some(Target::List),
        "stats" => return Some(Target::Stats),
        _ => {}
    }
    let (disk, part) = match path.split_once('p') {
        Some((disk, part)) => (disk, Some(number(part)?)),
        None => (path, None),
    };
    let disk = usize::try_from(number(disk)?).ok()?;
    let part = match part {
        Some(0) => return None,
        Some(p) => Some(u32::try_from(p).ok()?),
        None => None,
    };
    Some(Target::Disk { disk, part })
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(parse(""), Some(Target::List));
        assert_eq!(parse("/"), Some(Target::List));
        assert_eq!(parse("stats"), Some(Target::Stats));
        assert_eq!(parse("0"), Some(Target::Disk { disk: 0, part: None }));
        assert_eq!(parse("/12"), Some(Target::Disk { disk: 12, part: None }));
        assert_eq!(parse("0p1"), Some(Target::Disk { disk: 0, part: Some(1) }));
        assert_eq!(parse("3p128"), Some(Target::Disk { disk: 3, part: Some(128) }));
        for bad in ["0p0", "01", "0p01", "-1", "+1", "0p", "p1", "0p1p2", "a", "0 ", "0p99999999999", "stats/x"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
