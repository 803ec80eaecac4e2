//! `.env` as compose reads it: `KEY=VALUE` lines (`export ` allowed), `#` comments (and a ` #`
//! after an unquoted value), values single-quoted (as they are), double-quoted (`\n`, `\t`, `\"`,
//! `\\` and `${VAR}`, across lines) or bare (trimmed, `${VAR}`). A variable of the file sees
//! the ones defined above it and the environment. Which wins is the caller's: the profile's
//! `env:`, then the environment devenv runs in, then `.env`, then a `${VAR:-default}`.

use std::collections::BTreeMap;

/// One variable of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    pub name: String,
    pub value: String,
    /// 1-based line where it is defined.
    pub line: usize,
}

/// A line that is no variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct DotenvError {
    pub line: usize,
    pub message: String,
}

/// The variables of `text`, in order; `env` is what `${VAR}` in a value reads besides the
/// variables above it.
pub fn parse(text: &str, env: &BTreeMap<String, String>) -> Result<Vec<Var>, DotenvError> {
    let mut out: Vec<Var> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let n = i + 1;
        let raw = lines[i].trim_start_matches('\u{feff}');
        i += 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let Some((name, rest)) = line.split_once('=') else {
            return Err(DotenvError {
                line: n,
                message: format!("`{line}` is not KEY=VALUE"),
            });
        };
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .next()
                .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
            || !name
                .chars()
                .all(|c| c == '_' || c == '.' || c == '-' || c.is_ascii_alphanumeric())
        {
            return Err(DotenvError {
                line: n,
                message: format!("`{name}` is not a variable name"),
            });
        }
        let rest = rest.trim_start();
        let lookup = |v: &str| -> Option<String> {
            out.iter()
                .rev()
                .find(|x| x.name == v)
                .map(|x| x.value.clone())
                .or_else(|| env.get(v).cloned())
        };
        let value = if let Some(body) = rest.strip_prefix('\'') {
            match body.find('\'') {
                Some(end) => body[..end].to_string(),
                None => {
                    return Err(DotenvError {
                        line: n,
                        message: "a single quote without its closing quote".into(),
                    });
                }
            }
        } else if let Some(body) = rest.strip_prefix('"') {
            // a double-quoted value may go on over lines
            let mut text = body.to_string();
            let value = loop {
                if let Some(v) = closing_double(&text) {
                    break v;
                }
                if i >= lines.len() {
                    return Err(DotenvError {
                        line: n,
                        message: "a double quote without its closing quote".into(),
                    });
                }
                text.push('\n');
                text.push_str(lines[i]);
                i += 1;
            };
            expand(&unescape(&value), &lookup)
        } else {
            let v = match rest.find(" #") {
                Some(c) => &rest[..c],
                None => rest,
            };
            expand(v.trim(), &lookup)
        };
        out.push(Var {
            name: name.to_string(),
            value,
            line: n,
        });
    }
    Ok(out)
}

/// The text of a double-quoted value up to its closing quote (escapes kept), if it closes.
fn closing_double(s: &str) -> Option<String> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(s[..i].to_string()),
            _ => escaped = false,
        }
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

/// `${VAR}`, `$VAR`, `${VAR:-default}` in a value (what is not set reads as empty).
fn expand(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut unset = Vec::new();
    let f = |n: &str| lookup(n);
    super::interpolate::interpolate(s, &f, &mut unset).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> Vec<(String, String)> {
        let env = BTreeMap::from([("HOME".to_string(), "/home/me".to_string())]);
        parse(text, &env)
            .unwrap()
            .into_iter()
            .map(|v| (v.name, v.value))
            .collect()
    }

    #[test]
    fn as_compose_reads_it() {
        let got = vars(
            "# the database\nPOSTGRES_PASSWORD=secret\nexport TAG=1.2 # inline\nEMPTY=\nQUOTED='a #b $HOME'\nDOUBLE=\"line1\\nline2 ${TAG}\"\nMULTI=\"a\nb\"\nREF=${POSTGRES_PASSWORD}-x\nPATHY=$HOME/media\n",
        );
        assert_eq!(
            got,
            [
                ("POSTGRES_PASSWORD", "secret"),
                ("TAG", "1.2"),
                ("EMPTY", ""),
                ("QUOTED", "a #b $HOME"),
                ("DOUBLE", "line1\nline2 1.2"),
                ("MULTI", "a\nb"),
                ("REF", "secret-x"),
                ("PATHY", "/home/me/media"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }

    #[test]
    fn a_line_that_is_no_variable_is_named() {
        let e = parse("A=1\nthis is not\n", &BTreeMap::new()).unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("A='open\n", &BTreeMap::new()).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(parse("9A=1\n", &BTreeMap::new()).is_err());
    }
}
