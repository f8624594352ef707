//! cookbook: the host tool that cooks packages for Tessera.
//!
//! It will read `cookbook/recipes/<name>/recipe.toml` (`[source]`, `[build]`
//! template cargo | configure | custom, dependencies) and produce one stage
//! directory per recipe for the installer to copy into the image. Until
//! relibc-shim exists it only explains that.

fn main() {
    eprintln!("cookbook: no recipes can be cooked yet (relibc-shim is not built); see docs/roadmap.md");
    std::process::exit(2);
}
