//! End-to-end tests: build images from small fake inputs, then read them back with `gpt`
//! and `fatfs` the way firmware would, and check what the installer left behind.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use fatfs::{FileSystem, FsOptions};
use gpt::disk::LogicalBlockSize;
use installer::image::{ESP_NAME, ROOT_NAME, ROOT_PARTITION_TYPE};
use installer::layout::{ALIGN_BYTES, MIB_BYTES, SECTOR_BYTES};
use installer::slice::PartitionSlice;
use installer::{Arch, Config, Error, Install};
use redoxfs::{DiskIo, Node, TreePtr};
use tempfile::TempDir;

/// A temp dir with fake loader, kernel and initfs files of distinct contents.
struct Inputs {
    dir: TempDir,
    loader: Vec<u8>,
    kernel: Vec<u8>,
    initfs: Vec<u8>,
}

/// Deterministic, non-repeating-looking bytes so a misplaced cluster shows up.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

impl Inputs {
    fn new(kernel_bytes: usize) -> Inputs {
        let inputs = Inputs {
            dir: tempfile::tempdir().unwrap(),
            loader: pattern(70_000, 1),
            kernel: pattern(kernel_bytes, 2),
            initfs: pattern(300_001, 3),
        };
        fs::write(inputs.path("loader.efi"), &inputs.loader).unwrap();
        fs::write(inputs.path("kernel"), &inputs.kernel).unwrap();
        fs::write(inputs.path("initfs"), &inputs.initfs).unwrap();
        inputs
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config(&self, text: &str) -> PathBuf {
        let path = self.path("config.toml");
        fs::write(&path, text).unwrap();
        path
    }

    fn install(&self, config: &str, arch: Arch, env: &[&str]) -> Install {
        Install {
            config: self.config(config),
            arch,
            loader: self.path("loader.efi"),
            kernel: self.path("kernel"),
            initfs: self.path("initfs"),
            env_overrides: env.iter().map(|s| s.to_string()).collect(),
            root_dir: None,
            recipes: self.path("recipes"),
            cookbook_build: None,
            output: self.path("build/x/out.img"),
            keep_root: false,
        }
    }
}

/// Reads the GPT with both headers required to be valid.
fn read_gpt(image: &Path) -> gpt::GptDisk<File> {
    gpt::GptConfig::new().logical_block_size(LogicalBlockSize::Lb512).only_valid_headers(true).open(image).unwrap()
}

/// Mounts partition 1 of `image` as FAT.
fn mount_esp(image: &Path) -> FileSystem<PartitionSlice<File>> {
    let disk = read_gpt(image);
    let esp = &disk.partitions()[&1];
    let slice = PartitionSlice::new(
        File::open(image).unwrap(),
        esp.bytes_start(LogicalBlockSize::Lb512).unwrap(),
        esp.bytes_len(LogicalBlockSize::Lb512).unwrap(),
    )
    .unwrap();
    FileSystem::new(slice, FsOptions::new()).unwrap()
}

/// Mounts partition 2 of `image` as RedoxFS.
fn mount_root(image: &Path) -> redoxfs::FileSystem<DiskIo<PartitionSlice<File>>> {
    let disk = read_gpt(image);
    let root = &disk.partitions()[&2];
    let file = fs::OpenOptions::new().read(true).write(true).open(image).unwrap();
    let slice = PartitionSlice::new(
        file,
        root.bytes_start(LogicalBlockSize::Lb512).unwrap(),
        root.bytes_len(LogicalBlockSize::Lb512).unwrap(),
    )
    .unwrap();
    redoxfs::FileSystem::open(DiskIo(slice), None, None, true).expect("a RedoxFS volume")
}

/// The names in directory `dir`, sorted.
fn names_in<D: redoxfs::Disk>(fs: &mut redoxfs::FileSystem<D>, dir: TreePtr<Node>) -> Vec<String> {
    let mut entries = Vec::new();
    fs.tx(|tx| tx.child_nodes(dir, &mut entries)).unwrap();
    let mut names: Vec<String> = entries.iter().filter_map(|e| e.name().map(str::to_owned)).collect();
    names.sort();
    names
}

/// What a test checks of a node: mode, uid, gid.
struct Meta {
    mode: u16,
    uid: u32,
    gid: u32,
}

impl Meta {
    fn mode(&self) -> u16 {
        self.mode
    }
    fn uid(&self) -> u32 {
        self.uid
    }
    fn gid(&self) -> u32 {
        self.gid
    }
}

/// The node at `path` (absolute) and its bytes (empty for a directory).
fn root_node<D: redoxfs::Disk>(fs: &mut redoxfs::FileSystem<D>, path: &str) -> (Meta, Vec<u8>) {
    fs.tx(|tx| {
        let mut parts = path.trim_start_matches('/').split('/');
        let mut node = tx.find_node(TreePtr::root(), parts.next().unwrap_or(""))?;
        for part in parts {
            node = tx.find_node(node.ptr(), part)?;
        }
        let mut bytes = vec![0u8; node.data().size() as usize];
        if node.data().mode() & Node::MODE_TYPE != Node::MODE_DIR {
            tx.read_node(node.ptr(), 0, &mut bytes, 0, 0)?;
        }
        let data = node.data();
        Ok((Meta { mode: data.mode(), uid: data.uid(), gid: data.gid() }, bytes))
    })
    .unwrap_or_else(|e| panic!("{path}: {e:?}"))
}

fn read_esp_file(fs: &FileSystem<PartitionSlice<File>>, path: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    fs.root_dir().open_file(path).unwrap_or_else(|e| panic!("{path}: {e}")).read_to_end(&mut bytes).unwrap();
    bytes
}

fn check_esp_contents(image: &Path, inputs: &Inputs, arch: Arch, env: &str) {
    let fs = mount_esp(image);
    assert_eq!(fs.volume_label().trim_end(), "TESSERA");
    let loader = format!("EFI/BOOT/{}", arch.boot_file_name());
    assert_eq!(read_esp_file(&fs, &loader), inputs.loader);
    assert_eq!(read_esp_file(&fs, "kernel"), inputs.kernel);
    assert_eq!(read_esp_file(&fs, "initfs"), inputs.initfs);
    assert_eq!(String::from_utf8(read_esp_file(&fs, "env")).unwrap(), env);
    // Only the one loader for this arch.
    let boot_dir = fs.root_dir().open_dir("EFI/BOOT").unwrap();
    let names: Vec<String> =
        boot_dir.iter().map(|e| e.unwrap().file_name()).filter(|n| n != "." && n != "..").collect();
    assert_eq!(names, [arch.boot_file_name()]);
}

#[test]
fn x86_64_image_has_gpt_and_esp_only() {
    let inputs = Inputs::new(1_000_000);
    let install = inputs.install(
        "[general]\nefi_partition_size = 16\nfilesystem_size = 0\n[env]\nTESSERA_TEST = \"boot\"\n",
        Arch::X86_64,
        &[],
    );
    installer::install(&install).unwrap();
    let image = &install.output;
    assert!(!inputs.path("build/x/out.img.tmp").exists());
    assert_eq!(fs::metadata(image).unwrap().len(), 18 * MIB_BYTES);

    // Protective MBR: one 0xEE partition from LBA 1 over the rest of the disk.
    let mut file = File::open(image).unwrap();
    let mbr = gpt::mbr::ProtectiveMBR::from_disk(&mut file, LogicalBlockSize::Lb512).unwrap();
    let record = mbr.partition(0).unwrap();
    assert_eq!(record.os_type, 0xEE);
    assert_eq!(record.lb_start, 1);
    assert_eq!(u64::from(record.lb_size), 18 * MIB_BYTES / SECTOR_BYTES - 1);

    let disk = read_gpt(image);
    let header = disk.primary_header().unwrap();
    assert_eq!(header.num_parts, 128);
    assert_eq!(disk.backup_header().unwrap().current_lba, 18 * MIB_BYTES / SECTOR_BYTES - 1);
    let parts = disk.partitions();
    assert_eq!(parts.len(), 1);
    let esp = &parts[&1];
    assert_eq!(esp.part_type_guid, gpt::partition_types::EFI);
    assert_eq!(esp.part_type_guid.guid.to_string().to_uppercase(), "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    assert_eq!(esp.name, ESP_NAME);
    assert_eq!(esp.bytes_start(LogicalBlockSize::Lb512).unwrap(), ALIGN_BYTES);
    assert_eq!(esp.bytes_len(LogicalBlockSize::Lb512).unwrap(), 16 * MIB_BYTES);

    check_esp_contents(image, &inputs, Arch::X86_64, "TESSERA_TEST=boot\n");
}

#[test]
fn aarch64_image_with_root_partition_and_env_overrides() {
    let inputs = Inputs::new(2_500_000);
    let install = inputs.install(
        "[general]\nefi_partition_size = 20\nfilesystem_size = 64\n\
         [env]\nZ_LAST = \"z\"\nTESSERA_TEST = \"boot\"\nA_FIRST = \"a\"\n",
        Arch::Aarch64,
        &["TESSERA_TEST=fault", "EXTRA=x=y", "A_FIRST=again"],
    );
    installer::install(&install).unwrap();
    let image = &install.output;
    let disk_bytes = (1 + 20 + 64 + 1) * MIB_BYTES;
    assert_eq!(fs::metadata(image).unwrap().len(), disk_bytes);

    let disk = read_gpt(image);
    let parts = disk.partitions();
    assert_eq!(parts.len(), 2);
    let (esp, root) = (&parts[&1], &parts[&2]);
    assert_eq!(esp.part_type_guid, gpt::partition_types::EFI);
    assert_eq!(esp.bytes_len(LogicalBlockSize::Lb512).unwrap(), 20 * MIB_BYTES);
    assert_eq!(root.part_type_guid.guid, ROOT_PARTITION_TYPE);
    assert_eq!(root.name, ROOT_NAME);
    let root_start = root.bytes_start(LogicalBlockSize::Lb512).unwrap();
    assert_eq!(root_start % ALIGN_BYTES, 0);
    assert_eq!(root_start, (1 + 20) * MIB_BYTES);
    assert_eq!(root.bytes_len(LogicalBlockSize::Lb512).unwrap(), 64 * MIB_BYTES);
    assert!(root.last_lba <= disk.primary_header().unwrap().last_usable);

    // Config keys sorted, overridden keys replaced and moved after the rest, in
    // command-line order.
    let env = "Z_LAST=z\nTESSERA_TEST=fault\nEXTRA=x=y\nA_FIRST=again\n";
    check_esp_contents(image, &inputs, Arch::Aarch64, env);

    // The root partition is an empty RedoxFS volume: only its root directory.
    let mut root_fs = mount_root(image);
    assert_eq!(root_fs.tx(|tx| tx.child_nodes(TreePtr::root(), &mut Vec::new())).map(|_| ()), Ok(()));
    assert!(names_in(&mut root_fs, TreePtr::root()).is_empty());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let allocated = fs::metadata(image).unwrap().blocks() * 512;
        assert!(allocated < disk_bytes / 2, "image not sparse: {allocated} bytes allocated");
    }
}

#[test]
fn empty_env_still_writes_env_file() {
    let inputs = Inputs::new(10);
    let install = inputs.install("[general]\n", Arch::X86_64, &[]);
    installer::install(&install).unwrap();
    check_esp_contents(&install.output, &inputs, Arch::X86_64, "");
}

#[test]
fn same_inputs_give_identical_images() {
    let inputs = Inputs::new(100_000);
    let install = inputs.install("[general]\n[env]\nA = \"1\"\n", Arch::X86_64, &[]);
    installer::install(&install).unwrap();
    let first = fs::read(&install.output).unwrap();
    installer::install(&install).unwrap();
    assert!(first == fs::read(&install.output).unwrap());
}

#[test]
fn esp_too_small_is_a_clear_error_and_leaves_no_image() {
    let inputs = Inputs::new(3 * MIB_BYTES as usize);
    let install = inputs.install("[general]\nefi_partition_size = 2\n", Arch::X86_64, &[]);
    let err = installer::install(&install).unwrap_err();
    assert!(matches!(err, Error::EspTooSmall { esp_mib: 2, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.starts_with("ESP of 2 MiB is too small for "), "{msg}");
    assert!(msg.ends_with("raise [general] efi_partition_size"), "{msg}");
    assert!(!install.output.exists());
    assert!(!inputs.path("build/x/out.img.tmp").exists());

    // Raising the size as the message says fixes it.
    let install = inputs.install("[general]\nefi_partition_size = 5\n", Arch::X86_64, &[]);
    installer::install(&install).unwrap();
}

#[test]
fn failed_run_keeps_the_previous_image() {
    let inputs = Inputs::new(10);
    let install = inputs.install("[general]\nefi_partition_size = 1\n", Arch::X86_64, &[]);
    fs::create_dir_all(install.output.parent().unwrap()).unwrap();
    fs::write(&install.output, b"previous image").unwrap();
    let big = Install { kernel: inputs.path("big-kernel"), ..install.clone() };
    fs::write(&big.kernel, pattern(2 * MIB_BYTES as usize, 9)).unwrap();
    assert!(matches!(installer::install(&big), Err(Error::EspTooSmall { .. })));
    assert_eq!(fs::read(&install.output).unwrap(), b"previous image");
}

#[test]
fn missing_input_names_the_file() {
    let inputs = Inputs::new(10);
    let install = Install { initfs: inputs.path("no-such-initfs"), ..inputs.install("[general]\n", Arch::X86_64, &[]) };
    let err = installer::install(&install).unwrap_err();
    assert!(matches!(err, Error::Input { what: "initfs", .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-initfs"), "{err}");
    assert!(!install.output.exists());
}

#[test]
fn bad_config_names_the_file() {
    let inputs = Inputs::new(10);
    let install = inputs.install("[general]\nefi_partition_size = 16\nsize = 3\n", Arch::X86_64, &[]);
    let err = installer::install(&install).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with(&install.config.display().to_string()), "{msg}");
    assert!(msg.contains("size"), "{msg}");

    let install = inputs.install("[env]\nTESSERA_TEST = \"boot\"\n", Arch::X86_64, &[]);
    let msg = installer::install(&install).unwrap_err().to_string();
    assert!(msg.contains("general"), "{msg}");

    let install = inputs.install("[general]\n", Arch::X86_64, &["1BAD=x"]);
    let msg = installer::install(&install).unwrap_err().to_string();
    assert!(msg.starts_with("--env 1BAD=x: "), "{msg}");
}

#[test]
fn shipped_configs_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let env = |name: &str| {
        let config = Config::load(&dir.join(name)).unwrap();
        assert_eq!(config.general.efi_partition_mib, 32);
        // Every image has a root filesystem: init mounts it as file:.
        assert!(config.general.filesystem_mib >= 64, "{name}");
        installer::KernelEnv::from_table(&config.env, name).unwrap().render()
    };
    assert_eq!(env("default.toml"), "");
    assert_eq!(env("test.toml"), "TESSERA_KPTI=on\nTESSERA_TEST=boot\n");
    assert_eq!(env("test-fault.toml"), "TESSERA_TEST=boot\nTESSERA_TEST_FAULT=page\n");
}

#[test]
fn binary_reports_errors_and_exits_1() {
    let inputs = Inputs::new(1000);
    let config = inputs.config("[general]\n");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_installer"))
            .arg("--config")
            .arg(&config)
            .args(["--arch", "x86_64"])
            .arg("--loader")
            .arg(inputs.path("loader.efi"))
            .arg("--kernel")
            .arg(inputs.path("kernel"))
            .arg("--initfs")
            .arg(inputs.path("initfs"))
            .args(extra)
            .output()
            .unwrap()
    };

    let output = inputs.path("cli/out.img");
    let ok = run(&["--env", "K=v", "--output", output.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    check_esp_contents(&output, &inputs, Arch::X86_64, "K=v\n");

    let missing_output = run(&[]);
    assert_eq!(missing_output.status.code(), Some(1));
    let stderr = String::from_utf8(missing_output.stderr).unwrap();
    assert!(stderr.starts_with("installer: error: missing --output"), "{stderr}");

    let bad_env = run(&["--env", "NOVALUE", "--output", output.to_str().unwrap()]);
    assert_eq!(bad_env.status.code(), Some(1));
    let stderr = String::from_utf8(bad_env.stderr).unwrap();
    assert!(stderr.starts_with("installer: error: --env NOVALUE: "), "{stderr}");
}

#[test]
fn root_filesystem_holds_the_staged_tree_then_the_config_files() {
    let inputs = Inputs::new(10);
    let stage = inputs.path("stage");
    fs::create_dir_all(stage.join("usr/bin")).unwrap();
    fs::write(stage.join("usr/bin/lua"), pattern(50_000, 9)).unwrap();
    fs::write(stage.join("etc-motd"), "from the stage").unwrap();
    let config = "[general]\nfilesystem_size = 16\n\
        [[files]]\npath = \"/etc/hostname\"\ndata = \"tessera\\n\"\n\
        [[files]]\npath = \"/home/user\"\ndirectory = true\nmode = 0o700\nuid = 1000\ngid = 1000\n\
        [[files]]\npath = \"/bin\"\nsymlink = true\ndata = \"usr/bin\"\n\
        [[files]]\npath = \"/etc-motd\"\ndata = \"from the config\"\nmode = 0o600\n";
    let install = Install { root_dir: Some(stage), ..inputs.install(config, Arch::X86_64, &[]) };
    installer::install(&install).unwrap();
    let mut root = mount_root(&install.output);
    assert_eq!(names_in(&mut root, TreePtr::root()), ["bin", "etc", "etc-motd", "home", "usr"]);
    let (node, bytes) = root_node(&mut root, "/usr/bin/lua");
    assert_eq!(bytes, pattern(50_000, 9));
    assert_eq!(node.mode() & Node::MODE_TYPE, Node::MODE_FILE);
    let (node, bytes) = root_node(&mut root, "/etc/hostname");
    assert_eq!((bytes.as_slice(), node.mode()), (&b"tessera\n"[..], Node::MODE_FILE | 0o644));
    let (etc, _) = root_node(&mut root, "/etc");
    assert_eq!(etc.mode(), Node::MODE_DIR | 0o755, "a parent made on the way");
    let (home, _) = root_node(&mut root, "/home/user");
    assert_eq!((home.mode(), home.uid(), home.gid()), (Node::MODE_DIR | 0o700, 1000, 1000));
    let (link, target) = root_node(&mut root, "/bin");
    assert_eq!((link.mode() & Node::MODE_TYPE, target.as_slice()), (Node::MODE_SYMLINK, &b"usr/bin"[..]));
    // The config's entry replaces the staged file's contents and mode.
    let (motd, bytes) = root_node(&mut root, "/etc-motd");
    assert_eq!((bytes.as_slice(), motd.mode()), (&b"from the config"[..], Node::MODE_FILE | 0o600));
}

#[test]
fn root_filesystem_errors_are_clear_and_leave_no_image() {
    let inputs = Inputs::new(10);
    // A file where a directory must be, and files that do not fit.
    for (config, expect) in [
        ("[[files]]\npath = \"/a\"\ndata = \"x\"\n[[files]]\npath = \"/a/b\"\n", "adding /a/b"),
        ("[[files]]\npath = \"/a\"\ndata = \"x\"\n[[files]]\npath = \"/a\"\ndirectory = true\n", "adding /a"),
    ] {
        let install = inputs.install(&format!("[general]\nfilesystem_size = 8\n{config}"), Arch::X86_64, &[]);
        let err = installer::install(&install).unwrap_err();
        assert!(matches!(err, Error::RootFs { .. }), "{err:?}");
        assert!(err.to_string().contains(expect), "{err}");
        assert!(!install.output.exists() && !inputs.path("build/x/out.img.tmp").exists());
    }
    let big = inputs.path("big");
    fs::create_dir_all(&big).unwrap();
    fs::write(big.join("huge"), pattern(3 << 20, 5)).unwrap();
    let install =
        Install { root_dir: Some(big), ..inputs.install("[general]\nfilesystem_size = 2\n", Arch::X86_64, &[]) };
    let err = installer::install(&install).unwrap_err();
    assert!(matches!(err, Error::RootFs { .. }), "{err:?}");
    // --root-dir without a root filesystem.
    let install = Install { root_dir: Some(inputs.path("big")), ..inputs.install("[general]\n", Arch::X86_64, &[]) };
    assert!(matches!(installer::install(&install), Err(Error::ConfigValue { .. })));
}

/// Fixture recipes and stages, as `make cook` leaves them: `tool` needs `libthing` at
/// run time (and `buildonly` only to build), `clash` installs a file `tool` also has.
fn package_fixtures(inputs: &Inputs) -> (PathBuf, PathBuf) {
    let recipes = inputs.path("recipes");
    let build = inputs.path("cookbook-build");
    let recipe = |name: &str, text: &str| {
        fs::create_dir_all(recipes.join(name)).unwrap();
        fs::write(recipes.join(name).join("recipe.toml"), text).unwrap();
    };
    recipe(
        "tool",
        "[build]\ntemplate = \"none\"\ndependencies = [\"buildonly\"]\n[package]\ndependencies = [\"libthing\"]\n",
    );
    recipe("libthing", "[build]\ntemplate = \"none\"\n");
    recipe("buildonly", "[build]\ntemplate = \"none\"\n");
    recipe("clash", "[build]\ntemplate = \"none\"\n");
    recipe("needs-ghost", "[build]\ntemplate = \"none\"\n[package]\ndependencies = [\"ghost\"]\n");
    let file = |path: &str, bytes: &[u8], mode: u32| {
        let path = build.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, bytes).unwrap();
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    };
    file("tool/stage/usr/bin/tool", &pattern(40_000, 11), 0o755);
    file("tool/stage/usr/share/doc/tool/README", b"tool's readme", 0o644);
    file("libthing/stage/usr/lib/libthing.a", &pattern(9_000, 12), 0o644);
    file("libthing/stage/usr/share/thing/data", b"thing data", 0o600);
    file("buildonly/stage/usr/lib/libbuildonly.a", b"not installed", 0o644);
    file("clash/stage/usr/bin/tool", b"another tool", 0o755);
    (recipes, build)
}

#[test]
fn packages_and_their_run_time_dependencies_go_into_the_root_filesystem() {
    let inputs = Inputs::new(10);
    let (recipes, build) = package_fixtures(&inputs);
    let stage = inputs.path("stage");
    fs::create_dir_all(stage.join("usr/bin")).unwrap();
    fs::write(stage.join("usr/bin/existing"), "from --root-dir").unwrap();
    let config = "[general]\nfilesystem_size = 16\n[packages]\ntool = {}\n\
        [[files]]\npath = \"/etc/motd\"\ndata = \"hi\\n\"\n";
    let install = Install {
        root_dir: Some(stage),
        recipes,
        cookbook_build: Some(build),
        ..inputs.install(config, Arch::Aarch64, &[])
    };
    installer::install(&install).unwrap();
    let mut root = mount_root(&install.output);
    assert_eq!(names_in(&mut root, TreePtr::root()), ["etc", "usr"]);
    // usr/bin merged from --root-dir and the package; the dependency's files too; the
    // build-only dependency is not installed.
    let usr = node_ptr(&mut root, "/usr");
    assert_eq!(names_in(&mut root, usr), ["bin", "lib", "share"]);
    let bin = node_ptr(&mut root, "/usr/bin");
    assert_eq!(names_in(&mut root, bin), ["existing", "tool"]);
    let (tool, bytes) = root_node(&mut root, "/usr/bin/tool");
    assert_eq!(bytes, pattern(40_000, 11));
    assert_eq!((tool.mode(), tool.uid(), tool.gid()), (Node::MODE_FILE | 0o755, 0, 0));
    assert_eq!(root_node(&mut root, "/usr/bin/existing").1, b"from --root-dir");
    assert_eq!(root_node(&mut root, "/usr/share/doc/tool/README").1, b"tool's readme");
    assert_eq!(root_node(&mut root, "/usr/lib/libthing.a").1, pattern(9_000, 12));
    let (data, bytes) = root_node(&mut root, "/usr/share/thing/data");
    assert_eq!((data.mode(), bytes.as_slice()), (Node::MODE_FILE | 0o600, &b"thing data"[..]));
    let (share, _) = root_node(&mut root, "/usr/share");
    assert_eq!(share.mode() & Node::MODE_TYPE, Node::MODE_DIR);
    assert_eq!(root_node(&mut root, "/etc/motd").1, b"hi\n");
    let lib = node_ptr(&mut root, "/usr/lib");
    assert_eq!(names_in(&mut root, lib), ["libthing.a"]);
}

/// The node at `path` (absolute), for [`names_in`].
fn node_ptr<D: redoxfs::Disk>(fs: &mut redoxfs::FileSystem<D>, path: &str) -> TreePtr<Node> {
    fs.tx(|tx| {
        let mut ptr = TreePtr::root();
        for part in path.trim_start_matches('/').split('/') {
            ptr = tx.find_node(ptr, part)?.ptr();
        }
        Ok(ptr)
    })
    .unwrap_or_else(|e| panic!("{path}: {e:?}"))
}

#[test]
fn package_errors_are_caught_before_the_image_is_made() {
    let inputs = Inputs::new(10);
    let (recipes, build) = package_fixtures(&inputs);
    let with = |config: &str, cookbook_build: Option<PathBuf>| Install {
        recipes: recipes.clone(),
        cookbook_build,
        ..inputs.install(&format!("[general]\nfilesystem_size = 16\n{config}"), Arch::X86_64, &[])
    };
    let fails = |install: Install, expect: &str| {
        let err = installer::install(&install).unwrap_err();
        assert!(err.to_string().contains(expect), "{err}");
        assert!(!install.output.exists() && !inputs.path("build/x/out.img.tmp").exists(), "{expect}");
        err
    };
    // A package, or a run-time dependency, without a recipe.
    let err = fails(with("[packages]\nnope = {}\n", Some(build.clone())), "[packages] recipe nope: no recipe");
    assert!(matches!(err, Error::ConfigValue { .. }), "{err:?}");
    fails(with("[packages]\nneeds-ghost = {}\n", Some(build.clone())), "dependency ghost: no recipe");
    // A recipe that is not cooked.
    fs::remove_dir_all(build.join("libthing")).unwrap();
    let err = fails(with("[packages]\ntool = {}\n", Some(build.clone())), "package libthing is not cooked");
    assert!(matches!(err, Error::NotCooked { .. }), "{err:?}");
    // No stage directory given.
    fails(with("[packages]\nclash = {}\n", None), "needs --cookbook-build");
    // Two packages with the same file.
    fs::create_dir_all(build.join("libthing/stage")).unwrap();
    let err = fails(
        with("[packages]\ntool = {}\nclash = {}\n", Some(build.clone())),
        "(adding /usr/bin/tool from package tool): already in the root filesystem",
    );
    assert!(matches!(err, Error::RootFs { .. }), "{err:?}");
    // Nowhere to put them.
    let install = Install {
        recipes: recipes.clone(),
        cookbook_build: Some(build),
        ..inputs.install("[general]\n[packages]\ntool = {}\n", Arch::X86_64, &[])
    };
    fails(install, "[packages] needs a root filesystem");
}

#[test]
fn list_packages_prints_what_to_cook() {
    let inputs = Inputs::new(10);
    let (recipes, _) = package_fixtures(&inputs);
    let list = |config: &str, recipes: &Path| {
        let path = inputs.config(config);
        Command::new(env!("CARGO_BIN_EXE_installer"))
            .arg("--list-packages")
            .arg(&path)
            .arg("--recipes")
            .arg(recipes)
            .output()
            .unwrap()
    };
    let out = list("[general]\nfilesystem_size = 8\n[packages]\ntool = {}\nclash = {}\n", &recipes);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "clash\ntool\nlibthing\n");
    let out = list("[general]\n", &recipes);
    assert!(out.status.success() && out.stdout.is_empty());
    let out = list("[general]\nfilesystem_size = 8\n[packages]\nnope = {}\n", &recipes);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("installer: error: ") && stderr.contains("recipe nope: no recipe"), "{stderr}");
    // The project's own recipes: bzip2 needs nothing else at run time.
    let repo_recipes = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cookbook/recipes");
    let out = list("[general]\nfilesystem_size = 8\n[packages]\nbzip2 = {}\n", &repo_recipes);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "bzip2\n");
}

#[test]
fn keep_root_keeps_what_the_guest_wrote_and_only_that_partition() {
    let inputs = Inputs::new(10);
    let config = "[general]\nfilesystem_size = 8\n[[files]]\npath = \"/etc/hostname\"\ndata = \"one\\n\"\n";
    let install = Install { keep_root: true, ..inputs.install(config, Arch::X86_64, &[]) };
    // No image yet: a fresh root from the config.
    installer::install(&install).unwrap();
    // The guest writes a file into the root.
    {
        let mut root = mount_root(&install.output);
        root.tx(|tx| {
            let node = tx.create_node(TreePtr::root(), "written-by-guest", Node::MODE_FILE | 0o644, 1, 0)?;
            tx.write_node(node.ptr(), 0, b"persist me", 1, 0).map(|_| ())
        })
        .unwrap();
    }
    // A new kernel and a changed config: the ESP is new, the root is the guest's.
    fs::write(inputs.path("kernel"), pattern(30_000, 77)).unwrap();
    let changed = "[general]\nfilesystem_size = 8\n[[files]]\npath = \"/etc/hostname\"\ndata = \"two\\n\"\n";
    let install = Install { keep_root: true, ..inputs.install(changed, Arch::X86_64, &[]) };
    installer::install(&install).unwrap();
    let esp = mount_esp(&install.output);
    assert_eq!(read_esp_file(&esp, "kernel"), pattern(30_000, 77));
    let mut root = mount_root(&install.output);
    assert_eq!(root_node(&mut root, "/written-by-guest").1, b"persist me");
    assert_eq!(root_node(&mut root, "/etc/hostname").1, b"one\n", "the kept root is not refilled");
    drop(root);
    // Without --keep-root: a fresh root again.
    let fresh = inputs.install(changed, Arch::X86_64, &[]);
    installer::install(&fresh).unwrap();
    let mut root = mount_root(&fresh.output);
    assert_eq!(names_in(&mut root, TreePtr::root()), ["etc"]);
    assert_eq!(root_node(&mut root, "/etc/hostname").1, b"two\n");
    drop(root);
    // A different filesystem_size: the old root cannot be kept.
    {
        let mut root = mount_root(&fresh.output);
        root.tx(|tx| tx.create_node(TreePtr::root(), "old", Node::MODE_FILE | 0o644, 1, 0).map(|_| ())).unwrap();
    }
    let bigger = Install { keep_root: true, ..inputs.install("[general]\nfilesystem_size = 9\n", Arch::X86_64, &[]) };
    installer::install(&bigger).unwrap();
    let mut root = mount_root(&bigger.output);
    assert!(names_in(&mut root, TreePtr::root()).is_empty(), "a new, empty root");
}
