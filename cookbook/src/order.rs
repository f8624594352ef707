//! The cook order: every recipe after its build dependencies.
//!
//! A depth-first walk over `[build] dependencies` gives the topological
//! order; meeting a recipe that is still on the walk's path is a cycle,
//! reported with its names. `[package] dependencies` (run time) are cooked
//! too but impose no order, so a run-time cycle is not an error.
//!
//! [`package_closure`] is what an install needs: the named recipes and their
//! `[package] dependencies`, transitively (build dependencies are linked in,
//! not installed).

use std::collections::HashMap;

use crate::error::{Error, ErrorKind};
use crate::recipe::Recipe;

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    OnPath,
    Done,
}

/// The recipes `roots` need (themselves, build and run-time dependencies,
/// transitively), loaded by `load`, each after its build dependencies.
pub fn cook_order(
    roots: &[String],
    mut load: impl FnMut(&str) -> Result<Recipe, ErrorKind>,
) -> Result<Vec<Recipe>, Error> {
    let mut marks: HashMap<String, Mark> = HashMap::new();
    let mut order = Vec::new();
    let mut pending: Vec<String> = roots.iter().rev().cloned().collect();
    while let Some(root) = pending.pop() {
        let mut path = Vec::new();
        visit(&root, None, &mut load, &mut marks, &mut path, &mut order, &mut pending)?;
    }
    Ok(order)
}

fn visit(
    name: &str,
    parent: Option<&str>,
    load: &mut impl FnMut(&str) -> Result<Recipe, ErrorKind>,
    marks: &mut HashMap<String, Mark>,
    path: &mut Vec<String>,
    order: &mut Vec<Recipe>,
    pending: &mut Vec<String>,
) -> Result<(), Error> {
    match marks.get(name) {
        Some(Mark::Done) => return Ok(()),
        Some(Mark::OnPath) => {
            let start = path.iter().position(|n| n == name).unwrap_or(0);
            let mut cycle = path[start..].to_vec();
            cycle.push(name.to_string());
            return Err(ErrorKind::Cycle(cycle).in_recipe(name));
        }
        None => {}
    }
    let recipe = load(name).map_err(|kind| match (parent, kind) {
        (Some(p), ErrorKind::NoRecipe(file)) => {
            ErrorKind::Invalid(format!("dependency {name}: no recipe ({} does not exist)", file.display())).in_recipe(p)
        }
        (_, kind) => kind.in_recipe(name),
    })?;
    marks.insert(name.to_string(), Mark::OnPath);
    path.push(name.to_string());
    for dep in &recipe.build.dependencies {
        visit(dep, Some(name), load, marks, path, order, pending)?;
    }
    path.pop();
    marks.insert(name.to_string(), Mark::Done);
    for dep in recipe.package.dependencies.iter().rev() {
        pending.push(dep.clone());
    }
    order.push(recipe);
    Ok(())
}

/// `roots` and their run-time dependencies (`[package] dependencies`),
/// transitively, each once, in the order met (breadth first). A missing
/// recipe is [`ErrorKind::NoRecipe`] for a root, and names the recipe that
/// depends on it otherwise; a run-time cycle is not an error.
pub fn package_closure(
    roots: &[String],
    mut load: impl FnMut(&str) -> Result<Recipe, ErrorKind>,
) -> Result<Vec<Recipe>, Error> {
    let mut seen = std::collections::HashSet::new();
    let mut queue: std::collections::VecDeque<(String, Option<String>)> =
        roots.iter().map(|r| (r.clone(), None)).collect();
    let mut out = Vec::new();
    while let Some((name, parent)) = queue.pop_front() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let recipe = load(&name).map_err(|kind| match (&parent, kind) {
            (Some(p), ErrorKind::NoRecipe(file)) => {
                ErrorKind::Invalid(format!("dependency {name}: no recipe ({} does not exist)", file.display()))
                    .in_recipe(p)
            }
            (_, kind) => kind.in_recipe(&name),
        })?;
        for dep in &recipe.package.dependencies {
            queue.push_back((dep.clone(), Some(name.clone())));
        }
        out.push(recipe);
    }
    Ok(out)
}

/// The transitive build dependencies of `name` among `order` (a cook order),
/// each once, dependencies first.
pub fn build_closure<'a>(name: &str, order: &'a [Recipe]) -> Vec<&'a Recipe> {
    let by_name: HashMap<&str, &Recipe> = order.iter().map(|r| (r.name.as_str(), r)).collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    fn walk<'a>(
        name: &str,
        by_name: &HashMap<&str, &'a Recipe>,
        seen: &mut std::collections::HashSet<String>,
        out: &mut Vec<&'a Recipe>,
    ) {
        let Some(recipe) = by_name.get(name) else { return };
        for dep in &recipe.build.dependencies {
            if seen.insert(dep.clone()) {
                walk(dep, by_name, seen, out);
                if let Some(d) = by_name.get(dep.as_str()) {
                    out.push(d);
                }
            }
        }
    }
    walk(name, &by_name, &mut seen, &mut out);
    out
}
