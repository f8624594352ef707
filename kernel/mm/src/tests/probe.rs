//! A cost probe (ignored; run by hand): the scale benchmark's mprotect and
//! mmap+munmap over the fake table with 32, 2,048 and 32,000 grants
//! present (`PROBE_GRANTS=32,32000`, `PROBE_OPS=2000`). Wall time is
//! printed, but instruction counts are what to compare: run the release
//! test binary under `valgrind --tool=callgrind` at two op counts and
//! subtract (docs/mm.md, "Performance").

use std::println;
use std::time::Instant;

use super::harness::*;

fn population(w: &mut World, s: &mut Space, count: u64) -> u64 {
    let start = w.anon(s, count, R, PRIVATE).get();
    for page in (1..count).step_by(2) {
        w.mprotect(s, va(start + page * PAGE), PAGE, RW).unwrap();
    }
    assert_eq!(s.grant_count(), count);
    start
}

#[test]
#[ignore]
fn scale_probe() {
    let counts: std::vec::Vec<u64> = match std::env::var("PROBE_GRANTS") {
        Ok(v) => v.split(',').map(|c| c.parse().unwrap()).collect(),
        Err(_) => std::vec![32, 2048, 32_000],
    };
    let ops: u64 = std::env::var("PROBE_OPS").map_or(20_000, |v| v.parse().unwrap());
    for count in counts {
        let mut w = World::new();
        let mut config = World::config();
        config.max_grants = 100_000;
        let mut s = w.space_with(config);
        let start = population(&mut w, &mut s, count);
        let page = va(start + ((count / 2) & !1) * PAGE);
        let t0 = Instant::now();
        for op in 0..ops {
            let prot = if op % 2 == 0 { RW } else { R };
            w.mprotect(&mut s, page, PAGE, prot).unwrap();
        }
        let mprotect = t0.elapsed().as_nanos() as u64 / ops.max(1);
        let t0 = Instant::now();
        for _ in 0..ops {
            let a = w.anon(&mut s, 1, RW, PRIVATE);
            w.munmap(&mut s, a, PAGE).unwrap();
        }
        let mmap = t0.elapsed().as_nanos() as u64 / ops.max(1);
        println!("grants {count}: mprotect {mprotect} ns, mmap+munmap {mmap} ns");
        w.teardown(s);
    }
}
