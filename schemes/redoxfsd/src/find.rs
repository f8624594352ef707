//! Finding the root filesystem's partition by its GPT name in the listing
//! of `disk:` (virtio-blkd, docs/drivers.md), for `redoxfsd --partition
//! NAME`: the installer names the root partition `TESSERA_ROOT`.

/// The `disk:` paths (`NpM`) of the GPT entries named `name`, in listing
/// order; entries the driver marks `bad` (outside the disk's usable range)
/// are left out.
///
/// A listing line of a partition is `NpM first=LBA sectors=S name=NAME`,
/// optionally followed by ` bad`; whole-disk lines (`N pci=…`) never match.
pub fn partitions_named<'a>(listing: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    listing.lines().filter_map(move |line| {
        let mut words = line.split_ascii_whitespace();
        let path = words.next()?;
        let (disk, part) = path.split_once('p')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(disk) || !digits(part) {
            return None;
        }
        let mut named = false;
        for word in words {
            match word {
                "bad" => return None,
                _ if word.strip_prefix("name=") == Some(name) => named = true,
                _ => {}
            }
        }
        named.then_some(path)
    })
}

#[cfg(test)]
mod tests {
    use super::partitions_named;
    use alloc::vec::Vec;

    #[test]
    fn finds_named_partitions_in_order() {
        let listing = "0 pci=00:02.0 id=tessera-boot sectors=200000 rw irq=msi-x:1 gpt=primary partitions=2\n\
                       0p1 first=2048 sectors=65536 name=ESP\n\
                       0p2 first=67584 sectors=131072 name=TESSERA_ROOT\n\
                       1 pci=00:03.0 id=tessera-disk0 sectors=16384 rw irq=msi-x:2 gpt=primary partitions=2\n\
                       1p1 first=2048 sectors=4096 name=tessera-a\n\
                       1p2 first=6144 sectors=8192 name=TESSERA_ROOT bad\n\
                       2 pci=00:04.0 id=x name=TESSERA_ROOT\n\
                       3p1 first=1 sectors=1 name=TESSERA_ROOTS\n\
                       4p7 first=2048 sectors=8 name=TESSERA_ROOT\n";
        let found: Vec<&str> = partitions_named(listing, "TESSERA_ROOT").collect();
        assert_eq!(found, ["0p2", "4p7"]);
        assert_eq!(partitions_named(listing, "ESP").collect::<Vec<_>>(), ["0p1"]);
        assert_eq!(partitions_named(listing, "nothing").count(), 0);
        assert_eq!(partitions_named("", "TESSERA_ROOT").count(), 0);
        assert_eq!(partitions_named("p2 name=TESSERA_ROOT\nxp2 name=TESSERA_ROOT\n", "TESSERA_ROOT").count(), 0);
    }
}
