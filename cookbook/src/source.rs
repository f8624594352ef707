//! Sources: fetched into the cache, checked against their pinned SHA-256,
//! unpacked into a recipe's `source/`.
//!
//! Cache layout (`build/cookbook-cache/` unless `--cache` / `COOKBOOK_CACHE`):
//!
//! ```text
//! crates/<name>-<version>.crate      the Cargo registry's .tar.gz
//! npm/<name>-<version>.tgz           the npm registry's tarball
//! pypi/<name>-<version>/<sdist>      PyPI's sdist (file name from its JSON API)
//! tar/<sha256>/<file>                a tarball at a URL
//! deb/<name>_<version>/              .dsc and the files it lists (deb.rs)
//! apt/                               the private apt configuration (deb.rs)
//! ```
//!
//! A file is only moved into the cache after its checksum matched, so what
//! the cache holds was verified once, and it is verified again on each use.
//! In offline mode nothing is downloaded: a missing file is
//! [`ErrorKind::Offline`], naming the file wanted.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::deb;
use crate::error::{ErrorKind, KindResult};
use crate::recipe::{Origin, Recipe, Source};

/// Where sources are cached, and whether the network may be used.
#[derive(Debug, Clone)]
pub struct Fetcher {
    pub cache: PathBuf,
    pub offline: bool,
}

/// A fetched, verified source, ready to unpack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// An archive `tar` can unpack.
    Archive(PathBuf),
    /// A Debian `.dsc` whose files were checked.
    Dsc(PathBuf),
    /// The recipe's own `source/` directory.
    Local(PathBuf),
}

/// The SHA-256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> KindResult<String> {
    let mut file = std::fs::File::open(path).map_err(|e| ErrorKind::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| ErrorKind::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// The SHA-256 of bytes, lowercase hex.
pub fn sha256_bytes(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `path` against `expected`.
pub fn verify(path: &Path, expected: &str) -> KindResult<()> {
    let actual = sha256_file(path)?;
    if actual == expected {
        Ok(())
    } else {
        Err(ErrorKind::Checksum { file: path.to_path_buf(), expected: expected.to_string(), actual })
    }
}

/// `curl` `url` to `dest` (through a temporary name), failures as [`ErrorKind::Fetch`].
pub fn download(url: &str, dest: &Path) -> KindResult<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ErrorKind::io(dir, e))?;
    let part = PathBuf::from(format!("{}.part", dest.display()));
    eprintln!("cookbook: fetching {url}");
    let out = Command::new("curl")
        .args(["-fsSL", "--retry", "2", "--connect-timeout", "30", "-o"])
        .arg(&part)
        .arg(url)
        .output()
        .map_err(|e| ErrorKind::Tool { tool: "curl".into(), detail: e.to_string() })?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&part);
        let detail = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(ErrorKind::Fetch { url: url.to_string(), detail: format!("curl {}: {detail}", out.status) });
    }
    std::fs::rename(&part, dest).map_err(|e| ErrorKind::io(dest, e))
}

/// A download pinned by `sha256`, kept at `cached`.
fn cached_download(
    &Fetcher { offline, .. }: &Fetcher,
    what: &str,
    url: &str,
    cached: &Path,
    sha256: &str,
) -> KindResult<PathBuf> {
    if cached.is_file() {
        verify(cached, sha256).map_err(|e| match e {
            ErrorKind::Checksum { file, expected, actual } => ErrorKind::Checksum {
                file,
                expected: format!("{expected} (the pin; if it is right, delete the cached file to fetch it again)"),
                actual,
            },
            e => e,
        })?;
        return Ok(cached.to_path_buf());
    }
    if offline {
        return Err(ErrorKind::Offline { what: what.to_string(), path: cached.to_path_buf() });
    }
    // Unique per process: two cooks (one per arch) may fetch at once.
    let fresh = PathBuf::from(format!("{}.new-{}", cached.display(), std::process::id()));
    download(url, &fresh)?;
    if let Err(e) = verify(&fresh, sha256) {
        let _ = std::fs::remove_file(&fresh);
        return Err(e);
    }
    std::fs::rename(&fresh, cached).map_err(|e| ErrorKind::io(cached, e))?;
    Ok(cached.to_path_buf())
}

/// `rel` resolved against `base` (absolute URLs and `/`-rooted paths as
/// usual, `..` removing one directory).
pub fn join_url(base: &str, rel: &str) -> String {
    if rel.contains("://") {
        return rel.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if let Some(abs) = rel.strip_prefix('/') {
        return format!("{scheme}://{host}/{abs}");
    }
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop(); // the file name of the base
    for seg in rel.split('/') {
        match seg {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            s => parts.push(s),
        }
    }
    format!("{scheme}://{host}/{}", parts.join("/"))
}

/// The base URL of the crates' downloads (`COOKBOOK_CRATES_URL` overrides).
fn crates_url() -> String {
    std::env::var("COOKBOOK_CRATES_URL").unwrap_or_else(|_| "https://static.crates.io/crates".into())
}

fn npm_registry() -> String {
    std::env::var("COOKBOOK_NPM_REGISTRY").unwrap_or_else(|_| "https://registry.npmjs.org".into())
}

fn pypi_url() -> String {
    std::env::var("COOKBOOK_PYPI_URL").unwrap_or_else(|_| "https://pypi.org/pypi".into())
}

impl Fetcher {
    /// Fetches (or finds in the cache) and verifies `recipe`'s source.
    pub fn fetch(&self, recipe: &Recipe) -> KindResult<Fetched> {
        let src = &recipe.source;
        let sha = src.sha256.as_deref().unwrap_or_default();
        match &src.origin {
            Origin::Local => Ok(Fetched::Local(recipe.dir.join("source"))),
            Origin::Crate { name, version } => {
                let file = format!("{name}-{version}.crate");
                let url = format!("{}/{name}/{file}", crates_url());
                let path = self.cache.join("crates").join(&file);
                cached_download(self, &format!("crate {name} {version}"), &url, &path, sha).map(Fetched::Archive)
            }
            Origin::Npm { name, version } => {
                let base = name.rsplit('/').next().unwrap_or(name);
                let url = format!("{}/{name}/-/{base}-{version}.tgz", npm_registry());
                let path = self.cache.join("npm").join(format!("{}-{version}.tgz", name.replace('/', "+")));
                cached_download(self, &format!("npm {name} {version}"), &url, &path, sha).map(Fetched::Archive)
            }
            Origin::Pypi { name, version } => self.fetch_pypi(name, version, sha).map(Fetched::Archive),
            Origin::Tar { url } => {
                let base = url.rsplit('/').next().filter(|b| !b.is_empty()).unwrap_or("source.tar");
                let path = self.cache.join("tar").join(sha).join(base);
                cached_download(self, &format!("tarball {url}"), url, &path, sha).map(Fetched::Archive)
            }
            Origin::Deb { name, version } => deb::fetch(self, name, version, sha).map(Fetched::Dsc),
        }
    }

    /// PyPI: the release's JSON names its sdist; the file is cached under
    /// `pypi/<name>-<version>/`, which offline mode looks into.
    fn fetch_pypi(&self, name: &str, version: &str, sha: &str) -> KindResult<PathBuf> {
        let dir = self.cache.join("pypi").join(format!("{name}-{version}"));
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| !n.ends_with(".part") && !n.contains(".new-"))
                })
                .collect();
            files.sort();
            if let [file] = files.as_slice() {
                return cached_download(self, "", "", file, sha);
            }
        }
        let what = format!("pypi {name} {version} (its sdist)");
        if self.offline {
            return Err(ErrorKind::Offline { what, path: dir });
        }
        // The project's JSON lists every release's files (`releases`); a
        // release's own JSON (`urls`) is the fallback. Mirrors may give
        // relative URLs, resolved against the JSON's.
        let project_url = format!("{}/{name}/json", pypi_url());
        let release_url = format!("{}/{name}/{version}/json", pypi_url());
        let mut found = None;
        for (json_url, key) in [(&project_url, "releases"), (&release_url, "urls")] {
            let json_path = self.cache.join("pypi").join(format!("{name}-{version}.json.{}", std::process::id()));
            if download(json_url, &json_path).is_err() {
                continue;
            }
            let text = std::fs::read_to_string(&json_path).map_err(|e| ErrorKind::io(&json_path, e))?;
            let _ = std::fs::remove_file(&json_path);
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
            let files = if key == "releases" { &json["releases"][version] } else { &json["urls"] };
            let sdist = files.as_array().and_then(|f| f.iter().find(|u| u["packagetype"] == "sdist"));
            if let Some(sdist) = sdist
                && let (Some(url), Some(filename)) = (sdist["url"].as_str(), sdist["filename"].as_str())
            {
                found = Some((join_url(json_url, url), filename.to_string()));
                break;
            }
        }
        let Some((url, filename)) = found else {
            return Err(ErrorKind::Fetch {
                url: project_url,
                detail: format!("no sdist of version {version} found (nor at {release_url})"),
            });
        };
        if filename.contains('/') || filename.starts_with('.') {
            return Err(ErrorKind::Fetch { url, detail: format!("sdist file name {filename:?}") });
        }
        let url = &url;
        let filename = &filename;
        cached_download(self, &what, url, &dir.join(filename), sha)
    }

    /// Unpacks `fetched` as `recipe`'s source into `dest` (which must not exist):
    /// the archive (its one top directory stripped), then `file`, then `subdir`.
    pub fn unpack(&self, recipe: &Recipe, fetched: &Fetched, dest: &Path) -> KindResult<()> {
        let src: &Source = &recipe.source;
        let parent = dest.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| ErrorKind::io(parent, e))?;
        let tmp = parent.join("source.unpack");
        remove_all(&tmp)?;
        match fetched {
            Fetched::Archive(archive) => untar(archive, &tmp)?,
            Fetched::Dsc(dsc) => deb::unpack(dsc, &tmp)?,
            Fetched::Local(dir) if dir.is_dir() => copy_tree(dir, &tmp)?,
            Fetched::Local(_) => std::fs::create_dir_all(&tmp).map_err(|e| ErrorKind::io(&tmp, e))?,
        }
        let mut root = tmp.clone();
        if let Some(file) = &src.file {
            let inner = tmp.join(file);
            if !inner.is_file() {
                return Err(ErrorKind::Unpack {
                    archive: tmp.clone(),
                    detail: format!("the package has no file {file}"),
                });
            }
            let inner_root = parent.join("source.file");
            remove_all(&inner_root)?;
            if is_archive(file) {
                untar(&inner, &inner_root)?;
            } else {
                std::fs::create_dir_all(&inner_root).map_err(|e| ErrorKind::io(&inner_root, e))?;
                let name = Path::new(file).file_name().unwrap_or_default();
                std::fs::copy(&inner, inner_root.join(name)).map_err(|e| ErrorKind::io(&inner, e))?;
            }
            remove_all(&tmp)?;
            std::fs::rename(&inner_root, &tmp).map_err(|e| ErrorKind::io(&tmp, e))?;
            root = tmp.clone();
        }
        if let Some(sub) = &src.subdir {
            root = root.join(sub);
            if !root.is_dir() {
                return Err(ErrorKind::Unpack {
                    archive: tmp.clone(),
                    detail: format!("the package has no directory {sub}"),
                });
            }
        }
        std::fs::rename(&root, dest).map_err(|e| ErrorKind::io(dest, e))?;
        remove_all(&tmp)
    }
}

/// Whether `name` looks like an archive `tar` unpacks.
fn is_archive(name: &str) -> bool {
    [".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".crate"].iter().any(|s| name.ends_with(s))
}

/// `tar -xf` into `dest`; an archive holding one directory is stripped of it.
pub fn untar(archive: &Path, dest: &Path) -> KindResult<()> {
    let staging = dest.with_extension("tar-tmp");
    remove_all(&staging)?;
    std::fs::create_dir_all(&staging).map_err(|e| ErrorKind::io(&staging, e))?;
    let out = Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(&staging)
        .arg("--no-same-owner")
        .output()
        .map_err(|e| ErrorKind::Tool { tool: "tar".into(), detail: e.to_string() })?;
    if !out.status.success() {
        return Err(ErrorKind::Unpack {
            archive: archive.to_path_buf(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let entries: Vec<PathBuf> = std::fs::read_dir(&staging)
        .map_err(|e| ErrorKind::io(&staging, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let top = match entries.as_slice() {
        [one] if one.is_dir() => one.clone(),
        _ => staging.clone(),
    };
    std::fs::rename(&top, dest).map_err(|e| ErrorKind::io(dest, e))?;
    remove_all(&staging)
}

/// `rm -rf` that is quiet about a missing path.
pub fn remove_all(path: &Path) -> KindResult<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ErrorKind::io(path, e)),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path).map_err(|e| ErrorKind::io(path, e)),
        Ok(_) => std::fs::remove_file(path).map_err(|e| ErrorKind::io(path, e)),
    }
}

/// `cp -a from/. to/` (creating `to`).
pub fn copy_tree(from: &Path, to: &Path) -> KindResult<()> {
    std::fs::create_dir_all(to).map_err(|e| ErrorKind::io(to, e))?;
    let out = Command::new("cp")
        .arg("-a")
        .arg(from.join("."))
        .arg(to)
        .output()
        .map_err(|e| ErrorKind::Tool { tool: "cp".into(), detail: e.to_string() })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ErrorKind::Tool { tool: "cp".into(), detail: String::from_utf8_lossy(&out.stderr).trim().to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(sha256_bytes(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn relative_urls_resolve() {
        let base = "https://pypi.org/pypi/zlib-ng/json";
        assert_eq!(join_url(base, "../../packages/a/b.tar.gz"), "https://pypi.org/packages/a/b.tar.gz");
        assert_eq!(join_url(base, "/x/y"), "https://pypi.org/x/y");
        assert_eq!(join_url(base, "https://files.example/z"), "https://files.example/z");
    }

    #[test]
    fn archives_are_recognised() {
        assert!(is_archive("deps/sqlite-autoconf-3440200.tar.gz"));
        assert!(is_archive("x.crate"));
        assert!(!is_archive("shell.c"));
    }
}
