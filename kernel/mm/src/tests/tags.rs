//! The tag allocator (`tags`) against a model of tagged TLBs, as real
//! hardware has them (entries survive a switch; only a flush by tag, or of
//! everything, drops them): random switches, shootdowns, exits and new
//! spaces on a few CPUs with few tags, so that generations roll over all
//! the time. The model finds a stale entry when a CPU loads a tag under
//! which its TLB still holds another space's entries, or its own from
//! before a shootdown; and it checks that every CPU running a space uses
//! the space's current tag (which a shootdown flushes by). A shootdown
//! flushes every CPU only where another CPU runs the space; else the
//! sender flushes its own TLB and leaves the others' to their next switch
//! (`SpaceTag::flush_others_at_switch`), and a CPU running a space with an
//! entry older than the last shootdown is an error too.

use std::collections::BTreeSet;

use super::harness::Rng;
use crate::tags::{SpaceTag, TagAllocator, TagFlush};

/// One space of the model: its tag and how many shootdowns it has had.
struct Space {
    tag: SpaceTag,
    version: u64,
    alive: bool,
}

struct Model<const CPUS: usize> {
    tags: Box<TagAllocator<CPUS>>,
    spaces: Vec<Space>,
    /// Per CPU: cached (tag, space, version) entries.
    tlb: [BTreeSet<(u16, usize, u64)>; CPUS],
    /// Per CPU: the space it runs and the tag it loaded.
    running: [Option<(usize, u16)>; CPUS],
    /// A broken shootdown: it leaves other CPUs' entries to their next
    /// switch even while they run the space.
    ignore_running: bool,
}

impl<const CPUS: usize> Model<CPUS> {
    fn new(count: u64) -> Self {
        let tags = Box::new(TagAllocator::new());
        tags.set_count(count);
        Self {
            tags,
            spaces: Vec::new(),
            tlb: std::array::from_fn(|_| BTreeSet::new()),
            running: [None; CPUS],
            ignore_running: false,
        }
    }

    fn spawn(&mut self) -> usize {
        self.spaces.push(Space { tag: SpaceTag::new(), version: 0, alive: true });
        self.spaces.len() - 1
    }

    /// `cpu` switches (through the kernel-only table) to `space`.
    fn switch(&mut self, cpu: usize, space: usize) -> Result<(), String> {
        self.running[cpu] = None;
        let (tag, flush) = self.tags.switch_to(&self.spaces[space].tag, cpu);
        if tag == 0 {
            return Err(format!("space {space} got tag 0 on CPU {cpu}"));
        }
        match flush {
            TagFlush::Nothing => {}
            TagFlush::Tag => self.tlb[cpu].retain(|&(t, _, _)| t != tag),
            TagFlush::Everything => self.tlb[cpu].clear(),
        }
        let version = self.spaces[space].version;
        if let Some(&(_, other, v)) = self.tlb[cpu].iter().find(|&&(t, s, v)| t == tag && (s != space || v != version))
        {
            return Err(format!(
                "CPU {cpu} loads tag {tag} for space {space} (version {version}) but holds space {other}'s entries of version {v}"
            ));
        }
        self.tlb[cpu].insert((tag, space, version));
        self.running[cpu] = Some((space, tag));
        Ok(())
    }

    /// CPU `sender` changes a mapping of `space`: it flushes the space's
    /// tag from its own TLB, and from every CPU's unless the allocator
    /// leaves them to their next switch.
    fn shootdown(&mut self, space: usize, sender: usize) -> Result<(), String> {
        let tag = self.spaces[space].tag.asid();
        for cpu in 0..CPUS {
            if let Some((s, loaded)) = self.running[cpu]
                && s == space
                && loaded != tag
            {
                return Err(format!("CPU {cpu} runs space {space} with tag {loaded}, but its tag is {tag}"));
            }
        }
        self.spaces[space].version += 1;
        let version = self.spaces[space].version;
        let running = (0..CPUS)
            .filter(|&cpu| self.running[cpu].is_some_and(|(s, _)| s == space))
            .fold(0u64, |mask, cpu| mask | 1 << cpu);
        let seen = if self.ignore_running { 0 } else { running };
        self.tlb[sender].retain(|&(t, _, _)| t != tag);
        if !self.spaces[space].tag.flush_others_at_switch(sender, || seen) {
            self.tlb.iter_mut().for_each(|tlb| tlb.retain(|&(t, _, _)| t != tag));
        }
        for cpu in 0..CPUS {
            if running & 1 << cpu == 0 {
                continue;
            }
            if let Some(&(_, _, v)) = self.tlb[cpu].iter().find(|&&(t, s, v)| t == tag && s == space && v != version) {
                return Err(format!(
                    "CPU {cpu} runs space {space} with an entry of version {v} after shootdown {version}"
                ));
            }
            // A CPU running the space walks the new tables again.
            self.tlb[cpu].insert((tag, space, version));
        }
        Ok(())
    }

    /// Random operations; the first stale entry found, if any.
    fn run(&mut self, seed: u64, ops: usize, force_every: u64) -> Result<(), String> {
        let mut rng = Rng::new(seed);
        for _ in 0..4 {
            self.spawn();
        }
        self.tags.force_rollover_every(force_every);
        for _ in 0..ops {
            let cpu = rng.below(CPUS as u64) as usize;
            match rng.below(10) {
                0 => {
                    self.spawn();
                }
                1 => {
                    // A space no CPU runs ends (its entries stay in TLBs).
                    let space = rng.below(self.spaces.len() as u64) as usize;
                    if self.running.iter().all(|r| r.is_none_or(|(s, _)| s != space)) {
                        self.spaces[space].alive = false;
                    }
                }
                2 | 3 => {
                    let space = rng.below(self.spaces.len() as u64) as usize;
                    if self.spaces[space].alive {
                        self.shootdown(space, cpu)?;
                    }
                }
                _ => {
                    let alive: Vec<usize> = (0..self.spaces.len()).filter(|&s| self.spaces[s].alive).collect();
                    if alive.is_empty() {
                        self.spawn();
                        continue;
                    }
                    let space = alive[rng.below(alive.len() as u64) as usize];
                    self.switch(cpu, space)?;
                }
            }
        }
        Ok(())
    }
}

#[test]
fn tags_never_leave_a_stale_entry() {
    for seed in 1..=40 {
        Model::<2>::new(4).run(seed, 5_000, 0).unwrap_or_else(|e| panic!("seed {seed}, 2 CPUs, 4 tags: {e}"));
        Model::<4>::new(6).run(seed, 5_000, 0).unwrap_or_else(|e| panic!("seed {seed}, 4 CPUs, 6 tags: {e}"));
        Model::<2>::new(256).run(seed, 5_000, 7).unwrap_or_else(|e| panic!("seed {seed}, forced rollovers: {e}"));
        Model::<3>::new(1 << 16).run(seed, 2_000, 0).unwrap_or_else(|e| panic!("seed {seed}, 65536 tags: {e}"));
    }
}

/// Of 40 seeded runs on 2 CPUs with `tags` tags, broken by `breaking`:
/// how many the model failed.
fn caught(tags: u64, breaking: impl Fn(&mut Model<2>)) -> usize {
    let failed = (1..=40).filter(|&seed| {
        let mut model = Model::<2>::new(tags);
        breaking(&mut model);
        model.run(seed, 5_000, 0).is_err()
    });
    failed.count()
}

#[test]
fn the_model_catches_a_rollover_without_its_flush() {
    let caught = caught(4, |model| model.tags.break_rollover_flush());
    assert!(caught > 30, "skipping the rollover flush went unnoticed");
}

#[test]
fn the_model_catches_a_switch_that_keeps_a_stale_tag() {
    let caught = caught(256, |model| model.tags.break_stale_flush());
    assert!(caught > 30, "a switch keeping the entries a shootdown left went unnoticed");
}

#[test]
fn the_model_catches_a_shootdown_that_leaves_a_running_cpu() {
    let caught = caught(256, |model| model.ignore_running = true);
    assert!(caught > 30, "a CPU running the space kept its entries over a shootdown unnoticed");
}

#[test]
fn a_shootdown_marks_the_other_cpus_only_when_none_runs_the_space() {
    let tags = Box::new(TagAllocator::<3>::new());
    let space = SpaceTag::new();
    // CPU 1 runs the space: every CPU is flushed now, nobody is marked.
    assert!(!space.flush_others_at_switch(0, || 0b010));
    assert_eq!(space.stale_cpus(), 0);
    // Only the sender (or nobody) runs it: the others are marked.
    assert!(space.flush_others_at_switch(0, || 0b001));
    assert_eq!(space.stale_cpus() & 0b111, 0b110);
    // A CPU's first switch flushes everything (and takes its mark).
    assert_eq!(tags.switch_to(&space, 1).1, TagFlush::Everything);
    assert_eq!(space.stale_cpus() & 0b111, 0b100);
    assert_eq!(tags.switch_to(&space, 1).1, TagFlush::Nothing);
    tags.switch_to(&SpaceTag::new(), 2);
    assert!(space.flush_others_at_switch(1, || 0));
    // CPU 2 is marked twice, flushes once.
    let (tag, flush) = tags.switch_to(&space, 2);
    assert_eq!(flush, TagFlush::Tag);
    assert_eq!(tags.switch_to(&space, 2), (tag, TagFlush::Nothing));
    assert_eq!(space.stale_cpus() & 0b111, 0b001, "CPU 0, marked by CPU 1, has not switched yet");
}

#[test]
fn a_running_space_keeps_its_tag_over_a_rollover() {
    let tags = Box::new(TagAllocator::<2>::new());
    tags.set_count(4);
    let spaces: Vec<SpaceTag> = (0..6).map(|_| SpaceTag::new()).collect();
    let (first, flush) = tags.switch_to(&spaces[0], 0);
    assert_eq!(flush, TagFlush::Everything, "a CPU's first switch flushes (start-up entries)");
    // Same generation, same CPU: the fast path, no flush.
    assert_eq!(tags.switch_to(&spaces[0], 0), (first, TagFlush::Nothing));
    let before = tags.rollovers();
    for space in &spaces[1..] {
        tags.switch_to(space, 1);
    }
    assert!(tags.rollovers() > before, "6 spaces on 3 usable tags roll over");
    // CPU 0 still runs space 0: its tag is reserved, and space 0 keeps it.
    let (again, flush) = tags.switch_to(&spaces[0], 0);
    assert_eq!(again, first);
    assert_eq!(flush, TagFlush::Everything, "the first switch after a rollover flushes");
    assert_eq!(tags.count(), 4);
}

#[test]
fn the_tag_count_stays_above_the_cpus() {
    let tags = Box::new(TagAllocator::<4>::new());
    tags.set_count(1);
    assert_eq!(tags.count(), 6);
    tags.set_count(1 << 20);
    assert_eq!(tags.count(), 1 << 16);
}
