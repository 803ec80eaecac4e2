//! The project's managed block: whole-line markers around loopback entries for the profile's
//! names. Only the block is ever written; every other byte of the file stays as it was.
//! `remove(apply(x)) == x` for every file `x` without the block.

use std::net::IpAddr;

use super::edit::Edit;
use super::parse::{self, Ending, Hosts, Line, ParseError};

/// At most this many names per line: Windows reads no more.
pub const NAMES_PER_LINE: usize = 9;

pub fn begin_marker(project: &str) -> String {
    format!("# >>> devenv {project} >>>")
}

pub fn end_marker(project: &str) -> String {
    format!("# <<< devenv {project} <<<")
}

/// What the block should contain.
#[derive(Debug, Clone)]
pub struct BlockSpec<'a> {
    pub project: &'a str,
    pub profile: &'a str,
    /// Validated, normalised names (see `validate::normalize_name`).
    pub names: &'a [String],
    pub ipv6: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(
        "the devenv block of `{project}` is damaged: {detail}. Fix or delete those marker lines by hand; devenv will not guess which lines are its own"
    )]
    Markers { project: String, detail: String },
}

/// The marker lines equal to `text`, found by substring search (no full parse).
fn marker_lines(src: &[u8], text: &str) -> Vec<Line> {
    let mut v: Vec<Line> = Vec::new();
    for pos in memchr::memmem::find_iter(src, text.as_bytes()) {
        let l = parse::line_at(src, pos);
        if parse::is_marker_line(src, &l, text) && v.last() != Some(&l) {
            v.push(l);
        }
    }
    v
}

/// The begin and end marker lines of the project's block, if it has one.
pub fn locate(src: &[u8], project: &str) -> Result<Option<(Line, Line)>, BlockError> {
    if parse::is_utf16(src) {
        return Err(ParseError::Utf16.into());
    }
    let begins = marker_lines(src, &begin_marker(project));
    let ends = marker_lines(src, &end_marker(project));
    let nums = |v: &[Line]| {
        v.iter()
            .map(|l| parse::line_number(src, l.start))
            .collect::<Vec<_>>()
    };
    check_markers(project, &nums(&begins), &nums(&ends))?;
    Ok(match (begins.as_slice(), ends.as_slice()) {
        ([b], [e]) => Some((*b, *e)),
        _ => None,
    })
}

/// (begin, end) line indexes of the project's block.
pub fn find_block(h: &Hosts<'_>, project: &str) -> Result<Option<(usize, usize)>, BlockError> {
    let (b, e) = (begin_marker(project), end_marker(project));
    let begins: Vec<usize> = (0..h.lines.len()).filter(|&i| h.is_marker(i, &b)).collect();
    let ends: Vec<usize> = (0..h.lines.len()).filter(|&i| h.is_marker(i, &e)).collect();
    let one_based = |v: &[usize]| v.iter().map(|i| i + 1).collect::<Vec<_>>();
    check_markers(project, &one_based(&begins), &one_based(&ends))?;
    Ok(match (begins.as_slice(), ends.as_slice()) {
        ([b], [e]) => Some((*b, *e)),
        _ => None,
    })
}

/// Exactly one begin and one end marker, in that order, or none at all (1-based line numbers).
fn check_markers(project: &str, begins: &[usize], ends: &[usize]) -> Result<(), BlockError> {
    let lines = |v: &[usize]| {
        v.iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (begins, ends) {
        ([], []) => Ok(()),
        ([b], [e]) if b < e => Ok(()),
        ([b], [e]) => Err(BlockError::Markers {
            project: project.into(),
            detail: format!("its end marker (line {e}) comes before its begin marker (line {b})"),
        }),
        ([], ends) => Err(BlockError::Markers {
            project: project.into(),
            detail: format!(
                "an end marker without a begin marker (line {})",
                lines(ends)
            ),
        }),
        (begins, []) => Err(BlockError::Markers {
            project: project.into(),
            detail: format!(
                "a begin marker without an end marker (line {})",
                lines(begins)
            ),
        }),
        (begins, ends) => Err(BlockError::Markers {
            project: project.into(),
            detail: format!(
                "the markers appear more than once (begin: lines {}; end: lines {})",
                lines(begins),
                lines(ends)
            ),
        }),
    }
}

/// The block's lines (without endings).
pub fn block_lines(spec: &BlockSpec<'_>) -> Vec<String> {
    let mut v = vec![
        begin_marker(spec.project),
        format!(
            "# managed by devenv (profile {}): edit profiles/{}.yaml and run `devenv hosts apply`",
            spec.profile, spec.profile
        ),
    ];
    let mut add = |addr: &str| {
        for chunk in spec.names.chunks(NAMES_PER_LINE) {
            v.push(format!("{addr}\t{}", chunk.join(" ")));
        }
    };
    add("127.0.0.1");
    if spec.ipv6 {
        add("::1");
    }
    v.push(end_marker(spec.project));
    v
}

fn bom_prefix(src: &[u8], first: &Line) -> &'static [u8] {
    if first.start == 0 && src.starts_with(parse::BOM) {
        parse::BOM
    } else {
        b""
    }
}

/// The last line of `src`, found from the end.
fn last_line(src: &[u8]) -> Option<Line> {
    (!src.is_empty()).then(|| parse::line_at(src, src.len() - 1))
}

/// The file with the project's block added or replaced (`default_eol` for a file with no lines).
pub fn apply(src: &[u8], spec: &BlockSpec<'_>, default_eol: Ending) -> Result<Vec<u8>, BlockError> {
    Ok(apply_edit(src, spec, default_eol)?.materialize(src))
}

/// [`apply`] as an [`Edit`] of `src`.
pub fn apply_edit(
    src: &[u8],
    spec: &BlockSpec<'_>,
    default_eol: Ending,
) -> Result<Edit, BlockError> {
    if spec.names.is_empty() {
        return remove_edit(src, spec.project);
    }
    let found = locate(src, spec.project)?;
    let eol = parse::dominant_ending_of(src, default_eol).bytes();
    let lines = block_lines(spec);
    let mut out = Vec::with_capacity(lines.iter().map(|l| l.len() + 2).sum::<usize>() + 3);
    match found {
        Some((b, e)) => {
            out.extend_from_slice(bom_prefix(src, &b));
            let last_ending = e.ending.bytes();
            for (i, l) in lines.iter().enumerate() {
                out.extend_from_slice(l.as_bytes());
                out.extend_from_slice(if i + 1 == lines.len() {
                    last_ending
                } else {
                    eol
                });
            }
            Ok(Edit {
                keep_head: b.start,
                insert: out,
                tail_from: e.end(),
            })
        }
        None => {
            let last = last_line(src);
            let unterminated = last.is_some_and(|l| l.ending == Ending::None);
            if let Some(l) = last.filter(|_| unterminated) {
                // the file did not end in a newline: give its last line one, and leave the block
                // unterminated instead, so `remove` can give the original bytes back. A last line
                // ending in a lone CR gets CRLF, so that CR stays content when the file is re-read.
                let ends_in_cr = l.len > 0 && src[l.start + l.len - 1] == b'\r';
                out.extend_from_slice(if ends_in_cr {
                    Ending::CrLf.bytes()
                } else {
                    eol
                });
            }
            for (i, l) in lines.iter().enumerate() {
                out.extend_from_slice(l.as_bytes());
                if !(unterminated && i + 1 == lines.len()) {
                    out.extend_from_slice(eol);
                }
            }
            Ok(Edit {
                keep_head: src.len(),
                insert: out,
                tail_from: src.len(),
            })
        }
    }
}

/// The file without the project's block (unchanged when there is none).
pub fn remove(src: &[u8], project: &str) -> Result<Vec<u8>, BlockError> {
    Ok(remove_edit(src, project)?.materialize(src))
}

/// [`remove`] as an [`Edit`] of `src`.
pub fn remove_edit(src: &[u8], project: &str) -> Result<Edit, BlockError> {
    let Some((b, e)) = locate(src, project)? else {
        return Ok(Edit::none(src));
    };
    let mut keep_head = b.start;
    if e.ending == Ending::None && b.start > 0 {
        // the block was appended to a file without a final newline: take back the newline too
        let prev = parse::line_at(src, b.start - 1);
        keep_head = prev.start + prev.len;
    }
    Ok(Edit {
        keep_head,
        insert: bom_prefix(src, &b).to_vec(),
        tail_from: e.end(),
    })
}

/// A name of ours that another line maps to a different address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Conflict {
    pub name: String,
    pub address: String,
    /// 1-based line number.
    pub line: usize,
    /// Whether that line comes before our block (the first match wins, so it shadows ours).
    pub shadows: bool,
}

/// Lines outside our block that map our names to other addresses.
pub fn conflicts(src: &[u8], spec: &BlockSpec<'_>) -> Result<Vec<Conflict>, BlockError> {
    let found = locate(src, spec.project)?;
    let ours: Vec<IpAddr> = if spec.ipv6 {
        vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()]
    } else {
        vec!["127.0.0.1".parse().unwrap()]
    };
    let mut out = Vec::new();
    // fast path: in a file without upper-case ASCII, a name can only appear as itself, so the
    // lines worth reading are found by substring search
    let candidates: Option<Vec<usize>> = (!has_ascii_uppercase(src)).then(|| {
        let mut starts: Vec<usize> = spec
            .names
            .iter()
            .flat_map(|n| {
                memchr::memmem::find_iter(src, n.as_bytes())
                    .map(|pos| parse::line_at(src, pos).start)
            })
            .collect();
        starts.sort_unstable();
        starts.dedup();
        starts
    });
    let lines: Box<dyn Iterator<Item = (usize, Line)>> = match candidates {
        Some(starts) => Box::new(
            starts
                .into_iter()
                .map(|s| (parse::line_number(src, s) - 1, parse::line_at(src, s))),
        ),
        None => Box::new(parse::lines(src).enumerate()),
    };
    for (i, l) in lines {
        if found.is_some_and(|(b, e)| l.start >= b.start && l.start <= e.start) {
            continue;
        }
        let Some((addr, names)) = parse::entry_tokens(l.content(src)) else {
            continue;
        };
        for n in names {
            let Some(ours_n) = spec
                .names
                .iter()
                .find(|x| x.as_bytes().eq_ignore_ascii_case(n))
            else {
                continue;
            };
            match parse::parse_ip(addr) {
                Some(ip) if !ours.contains(&ip) => {}
                _ => continue,
            }
            out.push(Conflict {
                name: ours_n.clone(),
                address: String::from_utf8_lossy(addr).into_owned(),
                line: i + 1,
                shadows: found.is_none_or(|(b, _)| l.start < b.start),
            });
        }
    }
    Ok(out)
}

/// Whether any byte is `A`..=`Z` (branch-free per 64-byte chunk, so it vectorises).
fn has_ascii_uppercase(src: &[u8]) -> bool {
    src.chunks(64).any(|c| {
        c.iter()
            .fold(0u8, |acc, &b| acc | u8::from(b.wrapping_sub(b'A') < 26))
            != 0
    })
}

/// The project's block as found in the file: its line range and entries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BlockInfo {
    /// 1-based, inclusive.
    pub first_line: usize,
    pub last_line: usize,
    pub entries: Vec<(String, Vec<String>)>,
}

pub fn find(src: &[u8], project: &str) -> Result<Option<BlockInfo>, BlockError> {
    let h = parse::parse(src)?;
    Ok(find_block(&h, project)?.map(|(b, e)| BlockInfo {
        first_line: b + 1,
        last_line: e + 1,
        entries: (b..=e)
            .filter_map(|i| h.entry(i))
            .map(|en| {
                (
                    String::from_utf8_lossy(en.address).into_owned(),
                    en.names
                        .iter()
                        .map(|n| String::from_utf8_lossy(n).into_owned())
                        .collect(),
                )
            })
            .collect(),
    }))
}

/// Projects with a devenv block in the file.
pub fn projects(src: &[u8]) -> Vec<String> {
    let h = parse::parse_lossless(src);
    (0..h.lines.len())
        .filter_map(|i| {
            let c = std::str::from_utf8(h.content(i)).ok()?.trim();
            c.strip_prefix("# >>> devenv ")?
                .strip_suffix(" >>>")
                .map(String::from)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(names: &'a [String]) -> BlockSpec<'a> {
        BlockSpec {
            project: "myblog",
            profile: "local",
            names,
            ipv6: true,
        }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn apply_appends_and_remove_restores() {
        let n = names(&["myblog.test", "api.myblog.test"]);
        for src in [
            &b""[..],
            b"127.0.0.1 localhost\n",
            b"127.0.0.1 localhost",
            b"\xEF\xBB\xBF127.0.0.1 localhost\r\n::1 localhost\r\n",
            b"\xEF\xBB\xBF",
            b"# only a comment",
        ] {
            let a = apply(src, &spec(&n), Ending::Lf).unwrap();
            assert_ne!(a, src);
            assert_eq!(
                remove(&a, "myblog").unwrap(),
                src,
                "{:?}",
                String::from_utf8_lossy(src)
            );
            assert_eq!(
                apply(&a, &spec(&n), Ending::Lf).unwrap(),
                a,
                "apply is idempotent"
            );
        }
    }

    #[test]
    fn block_content_and_crlf() {
        let n = names(&["myblog.test", "api.myblog.test"]);
        let a = apply(b"127.0.0.1 localhost\r\n", &spec(&n), Ending::Lf).unwrap();
        let s = String::from_utf8(a).unwrap();
        assert_eq!(
            s,
            "127.0.0.1 localhost\r\n# >>> devenv myblog >>>\r\n# managed by devenv (profile local): edit profiles/local.yaml and run `devenv hosts apply`\r\n127.0.0.1\tmyblog.test api.myblog.test\r\n::1\tmyblog.test api.myblog.test\r\n# <<< devenv myblog <<<\r\n"
        );
    }

    #[test]
    fn at_most_nine_names_per_line() {
        let n: Vec<String> = (0..20).map(|i| format!("n{i}.test")).collect();
        let s = spec(&n);
        let lines = block_lines(&BlockSpec { ipv6: false, ..s });
        let entries: Vec<&String> = lines.iter().filter(|l| l.starts_with("127.")).collect();
        assert_eq!(entries.len(), 3);
        assert!(
            entries
                .iter()
                .all(|l| l.split_whitespace().count() <= 1 + NAMES_PER_LINE)
        );
    }

    #[test]
    fn replaces_in_place_keeping_surroundings() {
        let n = names(&["a.test"]);
        let src = b"x\n# >>> devenv myblog >>>\n127.0.0.1 old.test\n# <<< devenv myblog <<<\ny\n";
        let out = String::from_utf8(apply(src, &spec(&n), Ending::Lf).unwrap()).unwrap();
        assert!(out.starts_with("x\n# >>> devenv myblog >>>\n"));
        assert!(out.ends_with("# <<< devenv myblog <<<\ny\n"));
        assert!(out.contains("127.0.0.1\ta.test\n") && !out.contains("old.test"));
        assert_eq!(remove(src, "myblog").unwrap(), b"x\ny\n");
    }

    #[test]
    fn damaged_markers_are_refused() {
        let n = names(&["a.test"]);
        for src in [
            &b"# >>> devenv myblog >>>\n"[..],
            b"# <<< devenv myblog <<<\n",
            b"# <<< devenv myblog <<<\n# >>> devenv myblog >>>\n",
            b"# >>> devenv myblog >>>\n# <<< devenv myblog <<<\n# >>> devenv myblog >>>\n# <<< devenv myblog <<<\n",
        ] {
            assert!(matches!(apply(src, &spec(&n), Ending::Lf), Err(BlockError::Markers { .. })));
            assert!(remove(src, "myblog").is_err());
        }
        // another project's block is not ours
        let other = b"# >>> devenv other >>>\n127.0.0.1 o.test\n# <<< devenv other <<<\n";
        let a = apply(other, &spec(&n), Ending::Lf).unwrap();
        assert!(a.starts_with(other));
        assert_eq!(projects(&a), vec!["other", "myblog"]);
    }

    #[test]
    fn conflicts_are_reported() {
        let n = names(&["myblog.test", "api.myblog.test"]);
        let src = b"10.0.0.5 MyBlog.test\n127.0.0.1 api.myblog.test\n";
        let c = conflicts(src, &spec(&n)).unwrap();
        assert_eq!(
            c,
            vec![Conflict {
                name: "myblog.test".into(),
                address: "10.0.0.5".into(),
                line: 1,
                shadows: true
            }]
        );
    }
}
