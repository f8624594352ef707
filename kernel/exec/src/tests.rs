//! The checks exec makes, run on hand-made ELF files: each hostile shape
//! gets the error the kernel gives for it (the `hostile` guest test execs
//! some of the same files), and a normal program gets the pages it should.

use alloc::vec;
use alloc::vec::Vec;

use goblin::elf64::header::{EM_AARCH64, EM_X86_64, ET_DYN};
use goblin::elf64::program_header::{PF_R, PF_W, PF_X, PT_LOAD, PT_NOTE, ProgramHeader};
use rmm::{PAGE_SIZE, PageFlags};
use tessera_abi::error::{EFBIG, ENOEXEC, ENOMEM, Error};
use tessera_mm::Prot;

use crate::header::{HEADER_BYTES, PROGRAM_HEADER_BYTES};
use crate::*;

const MACHINE: u16 = EM_X86_64;
const BASE: u64 = 0x40_0000;
/// 512 MiB of frames, the test machines' memory.
const TOTAL_FRAMES: u64 = 512 << 8;

/// A PT_LOAD segment.
fn load(flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> ProgramHeader {
    ProgramHeader {
        p_type: PT_LOAD,
        p_flags: flags,
        p_offset: offset,
        p_vaddr: vaddr,
        p_paddr: vaddr,
        p_filesz: filesz,
        p_memsz: memsz,
        p_align: PAGE_SIZE,
    }
}

/// An ELF executable for `machine` with `phdrs` right after the header and
/// its bytes padded with a marker up to `size` (at least the headers).
fn elf_for(machine: u16, entry: u64, phdrs: &[ProgramHeader], size: usize) -> Vec<u8> {
    let mut out = vec![0x7F, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    out.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    out.extend_from_slice(&machine.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&entry.to_le_bytes());
    out.extend_from_slice(&(HEADER_BYTES as u64).to_le_bytes()); // e_phoff
    out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    out.extend_from_slice(&0u32.to_le_bytes());
    let phnum = phdrs.len() as u16;
    for half in [HEADER_BYTES as u16, PROGRAM_HEADER_BYTES as u16, phnum, 64, 0, 0] {
        out.extend_from_slice(&half.to_le_bytes());
    }
    for p in phdrs {
        out.extend_from_slice(&p.p_type.to_le_bytes());
        out.extend_from_slice(&p.p_flags.to_le_bytes());
        for word in [p.p_offset, p.p_vaddr, p.p_paddr, p.p_filesz, p.p_memsz, p.p_align] {
            out.extend_from_slice(&word.to_le_bytes());
        }
    }
    if out.len() < size {
        out.resize(size, 0xCC);
    }
    out
}

fn elf(entry: u64, phdrs: &[ProgramHeader], size: usize) -> Vec<u8> {
    elf_for(MACHINE, entry, phdrs, size)
}

/// What the kernel's `exec::load` checks, in its order, on `file`: the
/// layout, or the errno execve gives.
fn plan(file: &[u8]) -> core::result::Result<(goblin::elf64::header::Header, Layout), i32> {
    let errno = |e: ExecError| Error::from(e).errno;
    let size = file.len() as u64;
    check_file_size(size).map_err(errno)?;
    let ehdr: &[u8; HEADER_BYTES] = file[..HEADER_BYTES].try_into().expect("checked size");
    let hdr = check_header(ehdr, MACHINE).map_err(errno)?;
    let len = program_header_bytes(&hdr).map_err(errno)?;
    let at = hdr.e_phoff as usize;
    // The kernel's read past the end of the file fails (EINVAL there);
    // these files always hold their table.
    let phdrs = parse_program_headers(&file[at..at + len]);
    let layout = Layout::new(&phdrs, hdr.e_entry, size, MAX_DATA_PAGES).map_err(errno)?;
    layout.check_memory(TOTAL_FRAMES).map_err(errno)?;
    Ok((hdr, layout))
}

fn errno_of(file: &[u8]) -> Option<i32> {
    plan(file).err()
}

const R: PageFlags = PageFlags::new();
const RW: PageFlags = PageFlags::new().write(true);
const RX: PageFlags = PageFlags::new().execute(true);

/// The shape rust-lld gives a static program: text (with the headers in
/// its first page), read-only data, then data whose `.bss` runs on.
fn normal_program() -> Vec<u8> {
    elf(
        BASE + 0x100,
        &[
            load(PF_R | PF_X, 0, BASE, 0x1800, 0x1800),
            load(PF_R, 0x2000, BASE + 0x2000, 0x800, 0x800),
            load(PF_R | PF_W, 0x2800, BASE + 0x3800, 0x100, 0x3000),
            ProgramHeader { p_type: PT_NOTE, ..load(PF_R, 0x2000, BASE + 0x2000, 0x10, 0x10) },
        ],
        0x2900,
    )
}

#[test]
fn a_normal_static_program() {
    let (hdr, layout) = plan(&normal_program()).expect("loads");
    assert_eq!(hdr.e_entry, BASE + 0x100);
    assert_eq!(layout.loads.len(), 3, "the PT_NOTE is not loaded");
    let pages: Vec<(u64, PageFlags)> = layout.pages.iter().map(|(&p, &f)| (p, f)).collect();
    assert_eq!(pages, [(BASE, RX), (BASE + 0x1000, RX), (BASE + 0x2000, R), (BASE + 0x3000, RW)]);
    assert_eq!(layout.zero_runs, [ZeroRun { page: BASE + 0x4000, pages: 3, flags: RW }]);
    assert_eq!(layout.writable_zero_pages(), 3);
    assert_eq!(layout.zero_pages(), 3);
    // Text and read-only data are lent, one run per protection; the
    // writable page is copied.
    assert_eq!(
        layout.lendable_runs(),
        [
            FileRun { page: BASE, offset: 0, pages: 2, prot: Prot::READ | Prot::EXEC },
            FileRun { page: BASE + 0x2000, offset: 0x2000, pages: 1, prot: Prot::READ },
        ]
    );
    assert_eq!(layout.phdr_address(hdr.e_phoff), BASE + HEADER_BYTES as u64);
    assert_eq!(layout.phdr_address(0x2900), 0, "past every segment's file bytes");
}

#[test]
fn the_same_program_for_the_other_machine_is_enoexec() {
    let image = elf_for(EM_AARCH64, BASE + 0x100, &[load(PF_R | PF_X, 0, BASE, 0x1800, 0x1800)], 0x1800);
    assert_eq!(errno_of(&image), Some(ENOEXEC));
}

#[test]
fn bss_runs() {
    // A segment of only `.bss`: its first page is recorded (zero-filled
    // when copied), the rest is one run.
    let image = elf(
        BASE,
        &[load(PF_R | PF_X, 0, BASE, 0x100, 0x100), load(PF_R | PF_W, 0x1000, BASE + 0x1000, 0, 0x5000)],
        0x1000,
    );
    let (_, layout) = plan(&image).expect("loads");
    assert!(layout.pages.contains_key(&(BASE + 0x1000)));
    assert_eq!(layout.zero_runs, [ZeroRun { page: BASE + 0x2000, pages: 4, flags: RW }]);

    // A `.bss` whose last page holds the next segment's first bytes: that
    // page takes both segments' rights and leaves the run.
    let image =
        elf(BASE, &[load(PF_R | PF_W, 0, BASE, 0x10, 0x2800), load(PF_R, 0x2800, BASE + 0x2800, 0x100, 0x100)], 0x2900);
    let (_, layout) = plan(&image).expect("loads");
    assert_eq!(layout.pages.get(&(BASE + 0x2000)), Some(&RW));
    assert_eq!(layout.zero_runs, [ZeroRun { page: BASE + 0x1000, pages: 1, flags: RW }]);
    assert!(layout.lendable_runs().is_empty(), "the shared page is writable, the other pages hold .bss");

    // A read-only `.bss` costs no memory.
    let image = elf(BASE, &[load(PF_R, 0, BASE, 0x100, 1 << 40)], 0x100);
    let (_, layout) = plan(&image).expect("loads");
    assert_eq!(layout.writable_zero_pages(), 0);
    assert_eq!(layout.zero_pages(), (1 << 28) - 1);
}

#[test]
fn a_page_with_bss_or_misaligned_offsets_is_copied() {
    // The text's last page ends in zero fill: not lendable.
    let image = elf(BASE, &[load(PF_R | PF_X, 0, BASE, 0x1800, 0x1900)], 0x1800);
    let (_, layout) = plan(&image).expect("loads");
    assert_eq!(layout.lendable_runs(), [FileRun { page: BASE, offset: 0, pages: 1, prot: Prot::READ | Prot::EXEC }]);
    // Offset and address disagree modulo the page size: nothing is lent.
    let image = elf(BASE + 0x10, &[load(PF_R | PF_X, 0x8, BASE, 0x1000, 0x1000)], 0x1008);
    let (_, layout) = plan(&image).expect("loads");
    assert!(layout.lendable_runs().is_empty());
}

#[test]
fn data_pages_are_bounded_by_the_file() {
    // File bytes past the end of the file.
    assert_eq!(errno_of(&elf(BASE, &[load(PF_R, 0, BASE, 0x2000, 0x2000)], 0x1000)), Some(ENOEXEC));
    assert_eq!(errno_of(&elf(BASE, &[load(PF_R, u64::MAX, BASE, 2, 2)], 0x1000)), Some(ENOEXEC));
    // More file bytes than memory.
    assert_eq!(errno_of(&elf(BASE, &[load(PF_R, 0, BASE, 0x800, 0x400)], 0x1000)), Some(ENOEXEC));
    // The bound on recorded pages holds before any is recorded.
    let phdrs = [load(PF_R, 0, BASE, 0x1000, 0x1000), load(PF_R, 0x1000, BASE + 0x1000, 0x1001, 0x1001)];
    assert_eq!(Layout::new(&phdrs, BASE, 0x3000, 3).map(|l| l.pages.len()), Ok(3));
    assert_eq!(Layout::new(&phdrs, BASE, 0x3000, 2).err(), Some(ExecError::NotExecutable));
    // The largest file with a huge `.bss` records a page per file page
    // and one run for the rest.
    let size = MAX_PROGRAM_BYTES;
    let phdrs = [load(PF_R, 0, BASE, size, 1 << 40)];
    let layout = Layout::new(&phdrs, BASE, size, MAX_DATA_PAGES).expect("fits");
    assert_eq!(layout.pages.len() as u64, size / PAGE_SIZE);
    assert_eq!(layout.zero_runs.len(), 1);
}

#[test]
fn overlapping_segments_are_enoexec() {
    // The `hostile` guest test's case.
    let image = elf(BASE, &[load(PF_R, 0, BASE, 0xB0, 0x3000), load(PF_R | PF_W, 0, BASE + 0x1000, 0, 0x1000)], 0xB0);
    assert_eq!(errno_of(&image), Some(ENOEXEC));
    // Out of address order.
    let image = elf(BASE, &[load(PF_R, 0, BASE + 0x2000, 0xB0, 0x1000), load(PF_R, 0, BASE, 0xB0, 0x1000)], 0xB0);
    assert_eq!(errno_of(&image), Some(ENOEXEC));
    // Sharing only the page where one ends and the next begins is fine.
    let image = elf(BASE, &[load(PF_R, 0, BASE, 0xB0, 0x800), load(PF_R, 0, BASE + 0x800, 0xB0, 0x800)], 0xB0);
    assert!(plan(&image).is_ok());
}

#[test]
fn wrapping_segments_are_enoexec() {
    let image = elf(BASE, &[load(PF_R, 0, BASE, 0x78, u64::MAX - 0x1000)], 0x78);
    assert_eq!(errno_of(&image), Some(ENOEXEC));
    let image = elf(BASE, &[load(PF_R, 0, BASE, 0x78, 0x1000), load(PF_R, 0, u64::MAX - 0xFFF, 0, 0x1000)], 0x78);
    assert_eq!(errno_of(&image), Some(ENOEXEC));
}

#[test]
fn segments_outside_user_space_below_the_stack_are_enoexec() {
    // The `hostile` guest test's case: a segment in kernel space.
    let image = elf(BASE, &[load(PF_R, 0, 0xFFFF_8000_0000_0000, 0x78, 0x1000)], 0x78);
    assert_eq!(errno_of(&image), Some(ENOEXEC));
    // Into the stack, and ending just below it.
    let image =
        elf(BASE, &[load(PF_R, 0, BASE, 0x78, 0x1000), load(PF_R | PF_W, 0, STACK_BOTTOM - 0x1000, 0, 0x1001)], 0x78);
    assert_eq!(errno_of(&image), Some(ENOEXEC));
    let image =
        elf(BASE, &[load(PF_R, 0, BASE, 0x78, 0x1000), load(PF_R | PF_W, 0, STACK_BOTTOM - 0x1000, 0, 0x1000)], 0x78);
    assert!(plan(&image).is_ok());
    // Address 0.
    assert_eq!(errno_of(&elf(0x10, &[load(PF_R, 0, 0, 0x78, 0x1000)], 0x78)), Some(ENOEXEC));
}

#[test]
fn a_1_tib_writable_bss_is_enomem() {
    // The `hostile` guest test's case: p_memsz 2^40, refused for the
    // memory it would commit, not for its shape.
    let image = elf(BASE, &[load(PF_R | PF_W, 0, BASE, 0x78, 1 << 40)], 0x78);
    assert_eq!(errno_of(&image), Some(ENOMEM));
    let phdrs = [load(PF_R | PF_W, 0, BASE, 0x78, 1 << 40)];
    let layout = Layout::new(&phdrs, BASE, 0x78, MAX_DATA_PAGES).expect("a valid shape");
    assert_eq!(layout.writable_zero_pages(), (1 << 28) - 1);
    assert_eq!(layout.zero_runs.len(), 1, "one run, no per-page bookkeeping");
    // Exactly all of memory still fits.
    assert_eq!(layout.check_memory((1 << 28) - 1), Ok(()));
    assert_eq!(layout.check_memory((1 << 28) - 2), Err(ExecError::OutOfMemory));
}

#[test]
fn writable_and_executable_pages_are_enoexec() {
    assert_eq!(errno_of(&elf(BASE, &[load(PF_R | PF_W | PF_X, 0, BASE, 0x78, 0x78)], 0x78)), Some(ENOEXEC));
    // Two segments sharing a page, one writable, one executable.
    let image =
        elf(BASE, &[load(PF_R | PF_X, 0, BASE, 0x78, 0x800), load(PF_R | PF_W, 0, BASE + 0x800, 0x78, 0x800)], 0x78);
    assert_eq!(errno_of(&image), Some(ENOEXEC));
}

#[test]
fn the_entry_must_be_in_the_image() {
    let phdrs = [load(PF_R | PF_X, 0, BASE, 0x78, 0x1000)];
    assert_eq!(errno_of(&elf(BASE + 0x1000, &phdrs, 0x78)), Some(ENOEXEC));
    assert_eq!(errno_of(&elf(BASE - 1, &phdrs, 0x78)), Some(ENOEXEC));
    assert!(plan(&elf(BASE + 0xFFF, &phdrs, 0x78)).is_ok());
    // In the `.bss` run counts too.
    let phdrs = [load(PF_R, 0, BASE, 0x78, 0x3000)];
    assert!(plan(&elf(BASE + 0x2FFF, &phdrs, 0x78)).is_ok());
    // No loadable segment at all.
    assert_eq!(errno_of(&elf(BASE, &[], 0x78)), Some(ENOEXEC));
    assert_eq!(errno_of(&elf(BASE, &[load(PF_R, 0, BASE, 0, 0)], 0x78)), Some(ENOEXEC));
}

#[test]
fn headers_that_are_not_a_static_program() {
    let good = normal_program();
    let with = |at: usize, bytes: &[u8]| {
        let mut image = good.clone();
        image[at..at + bytes.len()].copy_from_slice(bytes);
        image
    };
    assert_eq!(errno_of(&with(0, b"\x7FELG")), Some(ENOEXEC), "magic");
    assert_eq!(errno_of(&with(4, &[1])), Some(ENOEXEC), "32-bit class");
    assert_eq!(errno_of(&with(16, &ET_DYN.to_le_bytes())), Some(ENOEXEC), "a shared object");
    assert_eq!(errno_of(&with(54, &55u16.to_le_bytes())), Some(ENOEXEC), "program header size");
    // Too many program headers for the 64 KiB table.
    let too_many = (MAX_PHDR_BYTES / PROGRAM_HEADER_BYTES + 1) as u16;
    assert_eq!(errno_of(&with(56, &too_many.to_le_bytes())), Some(ENOEXEC), "program header count");
    // Too short for a header, and too large a file.
    assert_eq!(errno_of(&good[..HEADER_BYTES - 1]), Some(ENOEXEC));
    assert_eq!(check_file_size(MAX_PROGRAM_BYTES + 1).map_err(|e| Error::from(e).errno), Err(EFBIG));
    assert_eq!(check_file_size(MAX_PROGRAM_BYTES), Ok(()));
}

#[test]
fn program_headers_parse_at_any_alignment() {
    let image = normal_program();
    let table = &image[HEADER_BYTES..HEADER_BYTES + 4 * PROGRAM_HEADER_BYTES];
    let mut shifted = vec![0u8];
    shifted.extend_from_slice(table);
    let phdrs = parse_program_headers(&shifted[1..]);
    assert_eq!(phdrs.len(), 4);
    assert_eq!((phdrs[2].p_flags, phdrs[2].p_vaddr, phdrs[2].p_memsz), (PF_R | PF_W, BASE + 0x3800, 0x3000));
    // A partial header at the end is ignored.
    assert_eq!(parse_program_headers(&table[..PROGRAM_HEADER_BYTES + 10]).len(), 1);
}

#[test]
fn errors_become_the_kernel_s_errnos() {
    assert_eq!(Error::from(ExecError::TooLarge).errno, EFBIG);
    assert_eq!(Error::from(ExecError::NotExecutable).errno, ENOEXEC);
    assert_eq!(Error::from(ExecError::OutOfMemory).errno, ENOMEM);
}

#[test]
fn page_rights_become_protections() {
    assert_eq!(prot(R), Prot::READ);
    assert_eq!(prot(RW), Prot::READ | Prot::WRITE);
    assert_eq!(prot(RX), Prot::READ | Prot::EXEC);
}
