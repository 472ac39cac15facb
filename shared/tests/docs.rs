//! The documentation's links hold: every relative link of the front pages (README.md,
//! ARCHITECTURE.md, BENCHMARKS.md) and of docs/ names a file of the repository, and every
//! `#anchor` a heading of its page; the front pages stay short enough to read. And the sources
//! keep one concern per file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every file under `dir` whose name ends with `suffix`, skipping build output, installed
/// packages and git's own folder.
fn files_under(dir: PathBuf, suffix: &str) -> Vec<PathBuf> {
    let skip = ["target", "node_modules", ".tools", ".aws-sam", ".git"];
    let mut found = Vec::new();
    let mut dirs = vec![dir];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() && !skip.contains(&name) {
                dirs.push(path);
            } else if name.ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found
}

/// Markdown pages checked: the front pages and everything under docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = ["README.md", "ARCHITECTURE.md", "BENCHMARKS.md"]
        .iter()
        .map(|p| root().join(p))
        .collect();
    pages.extend(files_under(root().join("docs"), ".md"));
    pages
}

/// The text outside fenced code blocks.
fn prose(text: &str) -> String {
    let mut fenced = false;
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(page: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(page).unwrap();
    prose(&text)
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| slug(l.trim_start_matches('#')))
        .collect()
}

/// Every `](target)` of a page's prose.
fn links(text: &str) -> Vec<String> {
    let prose = prose(text);
    let mut out = Vec::new();
    let mut rest = prose.as_str();
    while let Some(start) = rest.find("](") {
        rest = &rest[start + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    out
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", page.display()));
            } else if !anchor.is_empty() && !anchors(&target).contains(anchor) {
                broken.push(format!("{}: {link} (no such heading)", page.display()));
            }
        }
    }
    assert!(
        checked > 30,
        "only {checked} links found: is the parser broken?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_front_pages_stay_short() {
    for (page, most) in [("README.md", 150), ("ARCHITECTURE.md", 250)] {
        let lines = std::fs::read_to_string(root().join(page))
            .unwrap()
            .lines()
            .count();
        assert!(lines <= most, "{page} has {lines} lines (at most {most})");
    }
}

#[test]
fn the_link_checker_finds_what_is_broken() {
    let text = "see [a](x.md#y) and ![b](img.png)\n```\n[not](a link)\n```\n";
    assert_eq!(links(text), ["x.md#y", "img.png"]);
    assert_eq!(
        slug("SAM: build, run locally, deploy"),
        "sam-build-run-locally-deploy"
    );
    assert_eq!(slug("`make run` (fast)"), "make-run-fast");
}

/// The lines of `text` before its unit-test module: `#[cfg(test)]` followed by `mod tests`
/// (all of them without one). A `#[cfg(test)]` on anything else is code like the rest.
fn lines_before_tests(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let opens_tests = |i: usize| {
        lines[i].trim_start().starts_with("#[cfg(test)]")
            && lines[i + 1..]
                .iter()
                .map(|l| l.trim_start())
                .find(|l| !l.is_empty() && !l.starts_with("#["))
                .is_some_and(|l| {
                    l.starts_with("mod tests") || l.starts_with("pub(crate) mod tests")
                })
    };
    (0..lines.len())
        .find(|&i| opens_tests(i))
        .unwrap_or(lines.len())
}

/// One concern per file: a source file's code (the part before its unit tests) is at most
/// 400 lines; a file that grows past it holds two concerns, and splits by them.
#[test]
fn every_source_file_holds_one_concern() {
    let sources = files_under(root(), ".rs");
    assert!(sources.len() > 50, "found only {sources:?}");
    let long: Vec<String> = sources
        .iter()
        .filter_map(|path| {
            let lines = lines_before_tests(&std::fs::read_to_string(path).unwrap());
            let shown = path.strip_prefix(root()).unwrap_or(path).display();
            (lines > 400).then(|| format!("{shown}: {lines} lines"))
        })
        .collect();
    assert!(
        long.is_empty(),
        "longer than 400 lines before their tests: {long:#?}"
    );
    let text = "a\nb\n#[cfg(test)]\nmod tests {}\n";
    assert_eq!(lines_before_tests(text), 2);
    assert_eq!(lines_before_tests("a\nb\nc"), 3);
    let early = "#[cfg(test)]\nmod fixtures;\na\nb\n#[cfg(test)]\nmod tests {}\n";
    assert_eq!(lines_before_tests(early), 4);
}
