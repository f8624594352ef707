//! `deb = "name"`: a Debian source package, fetched with `apt-get source`
//! under a private apt configuration in the cookbook's cache, so the host's
//! apt configuration and state are left as they are.
//!
//! `<cache>/apt/` holds its own `sources.list` (one `deb-src` line: the
//! mirror, `http://deb.debian.org/debian` or `COOKBOOK_DEB_MIRROR`, and the
//! host's Debian suite from `/etc/os-release`, or `COOKBOOK_DEB_SUITE`),
//! state and cache directories. apt checks the downloads against the signed
//! index; the cookbook then checks the `.dsc` against the recipe's pinned
//! SHA-256 and every file the `.dsc` lists against its `Checksums-Sha256`.
//! `dpkg-source -x` unpacks (and applies Debian's patches); if it is missing
//! and the cookbook runs as root, it installs `dpkg-dev` and says so.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{ErrorKind, KindResult};
use crate::source::{Fetcher, remove_all, sha256_file, verify};

/// The files a `.dsc` lists in `Checksums-Sha256`: (sha256, size, name).
pub fn dsc_files(text: &str) -> Vec<(String, u64, String)> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("Checksums-Sha256:") {
            inside = true;
            continue;
        }
        if inside {
            if !line.starts_with(' ') {
                break;
            }
            let mut parts = line.split_whitespace();
            if let (Some(sum), Some(size), Some(name), None) = (parts.next(), parts.next(), parts.next(), parts.next())
                && let Ok(size) = size.parse()
            {
                out.push((sum.to_ascii_lowercase(), size, name.to_string()));
            }
        }
    }
    out
}

/// `version` without its epoch (`1:1.2.13-1` → `1.2.13-1`), as in file names.
fn file_version(version: &str) -> &str {
    version.split_once(':').map_or(version, |(_, v)| v)
}

/// Checks the `.dsc` at `dsc` against `pin` and the files next to it against
/// the `.dsc`. `Ok(missing)` lists files that are not there.
fn check_dir(dsc: &Path, pin: &str) -> KindResult<Vec<PathBuf>> {
    verify(dsc, pin)?;
    let text = std::fs::read_to_string(dsc).map_err(|e| ErrorKind::io(dsc, e))?;
    let files = dsc_files(&text);
    if files.is_empty() {
        return Err(ErrorKind::Unpack {
            archive: dsc.to_path_buf(),
            detail: "the .dsc lists no Checksums-Sha256".into(),
        });
    }
    let dir = dsc.parent().unwrap_or(Path::new("."));
    let mut missing = Vec::new();
    for (sum, size, name) in files {
        if name.contains('/') {
            return Err(ErrorKind::Unpack { archive: dsc.to_path_buf(), detail: format!("file name {name:?}") });
        }
        let path = dir.join(&name);
        if !path.is_file() {
            missing.push(path);
            continue;
        }
        let len = std::fs::metadata(&path).map_err(|e| ErrorKind::io(&path, e))?.len();
        let actual = sha256_file(&path)?;
        if actual != sum || len != size {
            return Err(ErrorKind::Checksum {
                file: path,
                expected: format!("{sum} ({size} bytes, from the .dsc)"),
                actual,
            });
        }
    }
    Ok(missing)
}

/// Fetches `name` `version` into `<cache>/deb/<name>_<version>/`; returns the `.dsc`.
pub fn fetch(fetcher: &Fetcher, name: &str, version: &str, pin: &str) -> KindResult<PathBuf> {
    let fver = file_version(version);
    let dir = fetcher.cache.join("deb").join(format!("{name}_{fver}"));
    let dsc = dir.join(format!("{name}_{fver}.dsc"));
    if dsc.is_file() {
        let missing = check_dir(&dsc, pin)?;
        if missing.is_empty() {
            return Ok(dsc);
        }
        if fetcher.offline {
            return Err(ErrorKind::Offline {
                what: format!("deb {name} {version} (a file its .dsc lists)"),
                path: missing[0].clone(),
            });
        }
    } else if fetcher.offline {
        return Err(ErrorKind::Offline { what: format!("deb {name} {version}"), path: dsc });
    }
    let apt = PrivateApt::new(&fetcher.cache.join("apt"))?;
    // Unique per process: two cooks (one per arch) may fetch at once.
    let tmp = PathBuf::from(format!("{}.download-{}", dir.display(), std::process::id()));
    remove_all(&tmp)?;
    std::fs::create_dir_all(&tmp).map_err(|e| ErrorKind::io(&tmp, e))?;
    let spec = format!("{name}={version}");
    let mut result = apt.run(&tmp, &["source", "--download-only", &spec]);
    if result.is_err() {
        // Perhaps the index is old or absent: update once and retry.
        apt.update()?;
        result = apt.run(&tmp, &["source", "--download-only", &spec]);
    }
    result.map_err(|detail| ErrorKind::Fetch { url: format!("apt-get source {spec} ({})", apt.line), detail })?;
    let got = tmp.join(format!("{name}_{fver}.dsc"));
    if !got.is_file() {
        return Err(ErrorKind::Fetch {
            url: format!("apt-get source {spec}"),
            detail: "no .dsc was downloaded".into(),
        });
    }
    let missing = check_dir(&got, pin)?;
    if let Some(first) = missing.first() {
        return Err(ErrorKind::Fetch {
            url: format!("apt-get source {spec}"),
            detail: format!("{} was not downloaded", first.display()),
        });
    }
    remove_all(&dir)?;
    std::fs::rename(&tmp, &dir).map_err(|e| ErrorKind::io(&dir, e))?;
    check_dir(&dsc, pin)?;
    Ok(dsc)
}

/// `dpkg-source -x <dsc> <dest>`.
pub fn unpack(dsc: &Path, dest: &Path) -> KindResult<()> {
    ensure_dpkg_source()?;
    let out = Command::new("dpkg-source")
        .arg("--no-check")
        .arg("-x")
        .arg(dsc)
        .arg(dest)
        .output()
        .map_err(|e| ErrorKind::Tool { tool: "dpkg-source".into(), detail: e.to_string() })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ErrorKind::Unpack {
            archive: dsc.to_path_buf(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
}

/// Installs `dpkg-dev` (which carries dpkg-source) when missing and root.
fn ensure_dpkg_source() -> KindResult<()> {
    if have("dpkg-source") {
        return Ok(());
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root || !have("apt-get") {
        return Err(ErrorKind::Tool {
            tool: "dpkg-source".into(),
            detail: "not installed; install the Debian package dpkg-dev (apt-get install dpkg-dev)".into(),
        });
    }
    eprintln!("cookbook: installing dpkg-dev (dpkg-source unpacks Debian source packages)");
    let status = Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends", "dpkg-dev"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| ErrorKind::Tool { tool: "apt-get".into(), detail: e.to_string() })?;
    if status.success() && have("dpkg-source") {
        Ok(())
    } else {
        Err(ErrorKind::Tool { tool: "dpkg-source".into(), detail: format!("apt-get install dpkg-dev: {status}") })
    }
}

/// The host's Debian suite (`VERSION_CODENAME` of /etc/os-release).
fn host_suite() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// The private apt configuration under `<cache>/apt/`.
struct PrivateApt {
    root: PathBuf,
    /// The `deb-src` line, for messages.
    line: String,
}

impl PrivateApt {
    fn new(root: &Path) -> KindResult<PrivateApt> {
        // apt reads relative directories as relative to its own (/etc/apt, /).
        let root = &std::path::absolute(root).map_err(|e| ErrorKind::io(root, e))?;
        let suite = std::env::var("COOKBOOK_DEB_SUITE").ok().or_else(host_suite).ok_or_else(|| ErrorKind::Tool {
            tool: "apt-get".into(),
            detail: "no Debian suite: /etc/os-release has no VERSION_CODENAME; set COOKBOOK_DEB_SUITE".into(),
        })?;
        let mirror = std::env::var("COOKBOOK_DEB_MIRROR").unwrap_or_else(|_| "http://deb.debian.org/debian".into());
        let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
        let signed = if Path::new(keyring).is_file() { format!("[signed-by={keyring}] ") } else { String::new() };
        let line = format!("deb-src {signed}{mirror} {suite} main");
        for sub in ["etc/sources.list.d", "etc/preferences.d", "state/lists/partial", "cache/archives/partial"] {
            let d = root.join(sub);
            std::fs::create_dir_all(&d).map_err(|e| ErrorKind::io(&d, e))?;
        }
        let list = root.join("etc/sources.list");
        let old = std::fs::read_to_string(&list).unwrap_or_default();
        let apt = PrivateApt { root: root.to_path_buf(), line };
        if old.trim() != apt.line {
            std::fs::write(&list, format!("{}\n", apt.line)).map_err(|e| ErrorKind::io(&list, e))?;
            if let Err(e) = apt.update() {
                // The next run updates again.
                let _ = std::fs::remove_file(&list);
                return Err(e);
            }
        }
        Ok(apt)
    }

    fn options(&self) -> Vec<String> {
        let r = self.root.display();
        vec![
            format!("Dir::Etc::SourceList={r}/etc/sources.list"),
            format!("Dir::Etc::SourceParts={r}/etc/sources.list.d"),
            format!("Dir::Etc::Preferences={r}/etc/preferences"),
            format!("Dir::Etc::PreferencesParts={r}/etc/preferences.d"),
            format!("Dir::State={r}/state"),
            format!("Dir::Cache={r}/cache"),
            "Debug::NoLocking=1".into(),
        ]
    }

    /// `apt-get <args>` in `cwd`; `Err` carries its stderr. Lines of a
    /// download that failed (`Err:`, `Failed to fetch`) are failures too:
    /// `apt-get update` exits 0 after them.
    fn run(&self, cwd: &Path, args: &[&str]) -> Result<(), String> {
        let mut cmd = Command::new("apt-get");
        cmd.current_dir(cwd).arg("-q");
        for o in self.options() {
            cmd.arg("-o").arg(o);
        }
        let out = cmd.args(args).output().map_err(|e| format!("apt-get: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let failed: Vec<&str> = stdout
            .lines()
            .chain(stderr.lines())
            .filter(|l| l.starts_with("Err:") || l.contains("Failed to fetch") || l.starts_with("E:"))
            .collect();
        if out.status.success() && failed.is_empty() {
            Ok(())
        } else if failed.is_empty() {
            Err(format!("apt-get {}: {}", out.status, stderr.trim()))
        } else {
            Err(format!("apt-get {}: {}", out.status, failed.join("; ")))
        }
    }

    fn update(&self) -> KindResult<()> {
        eprintln!("cookbook: apt-get update (private: {})", self.line);
        self.run(&self.root, &["update"])
            .map_err(|detail| ErrorKind::Fetch { url: format!("apt-get update ({})", self.line), detail })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsc_checksums_are_read() {
        let dsc = "Format: 3.0 (quilt)\nSource: zlib\nChecksums-Sha1:\n aaaa 1 x.tar.bz2\nChecksums-Sha256:\n \
                   71FEB7 1239825 zlib_1.2.13.dfsg.orig.tar.bz2\n f66cf3 15700 zlib_1.2.13.dfsg-1.debian.tar.xz\n\
                   Files:\n bbbb 1 x.tar.bz2\n";
        assert_eq!(
            dsc_files(dsc),
            [
                ("71feb7".to_string(), 1239825, "zlib_1.2.13.dfsg.orig.tar.bz2".to_string()),
                ("f66cf3".to_string(), 15700, "zlib_1.2.13.dfsg-1.debian.tar.xz".to_string()),
            ]
        );
        assert!(dsc_files("Source: x\n").is_empty());
    }

    #[test]
    fn file_versions_drop_the_epoch() {
        assert_eq!(file_version("1:1.2.13.dfsg-1"), "1.2.13.dfsg-1");
        assert_eq!(file_version("5.4.6-3"), "5.4.6-3");
    }
}
