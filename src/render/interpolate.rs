//! Compose's variable interpolation, done by devenv so that what it checks, diffs and deploys is
//! what docker would deploy: `$VAR`, `${VAR}`, `${VAR:-default}` / `${VAR-default}`,
//! `${VAR:?error}` / `${VAR?error}`, `${VAR:+alt}` / `${VAR+alt}`, `$$` for a literal `$`, and
//! defaults that hold further variables. Values come from the profile's `env:` first, then from
//! the environment devenv runs in. The stack devenv writes has every `$` escaped as `$$`, so
//! docker does not interpolate it a second time.

use serde_yaml_ng::{Mapping, Value};

/// Where values come from: the profile's `env:`, then the process environment.
pub trait Lookup {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// What went wrong in one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// `${VAR:?message}` with VAR unset (or empty).
    Required { var: String, message: String },
    /// A `${` without its `}`, or a name that is not one.
    Syntax(String),
    /// The values put in add up to more than devenv renders (the same cap as a template's
    /// output): a runaway of a big variable used many times.
    TooLarge,
}

/// The most interpolation may produce in one document, in bytes: the cap of a rendered
/// template's output too.
pub const MAX_INTERPOLATED_BYTES: u64 = crate::render::MAX_OUTPUT_BYTES as u64;

/// Interpolates one string. `unset` collects variables that were used without a value or a
/// default (they become empty, as in docker, and are reported).
pub fn interpolate(s: &str, env: &dyn Lookup, unset: &mut Vec<String>) -> Result<String, Problem> {
    let chars: Vec<char> = s.chars().collect();
    let mut pos = 0;
    let out = expand(&chars, &mut pos, env, unset, false)?;
    Ok(out)
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

/// Expands until the end of input, or (when `nested`) until the `}` that closes a default.
fn expand(
    c: &[char],
    pos: &mut usize,
    env: &dyn Lookup,
    unset: &mut Vec<String>,
    nested: bool,
) -> Result<String, Problem> {
    let mut out = String::new();
    while *pos < c.len() {
        let ch = c[*pos];
        if nested && ch == '}' {
            return Ok(out);
        }
        if ch != '$' {
            out.push(ch);
            *pos += 1;
            continue;
        }
        // a `$`
        match c.get(*pos + 1) {
            Some('$') => {
                out.push('$');
                *pos += 2;
            }
            Some('{') => {
                *pos += 2;
                out.push_str(&braced(c, pos, env, unset)?);
                if out.len() as u64 > MAX_INTERPOLATED_BYTES {
                    return Err(Problem::TooLarge);
                }
            }
            Some(&n) if is_name_start(n) => {
                *pos += 1;
                let start = *pos;
                while *pos < c.len() && is_name(c[*pos]) {
                    *pos += 1;
                }
                let name: String = c[start..*pos].iter().collect();
                out.push_str(&value_of(&name, env, unset));
                if out.len() as u64 > MAX_INTERPOLATED_BYTES {
                    return Err(Problem::TooLarge);
                }
            }
            _ => {
                // a lone `$` (before a space, a digit, the end): docker refuses it too
                let rest: String = c[*pos..].iter().take(12).collect();
                return Err(Problem::Syntax(format!(
                    "`{rest}`: a `$` that starts no variable (write `$$` for a literal `$`)"
                )));
            }
        }
    }
    if nested {
        return Err(Problem::Syntax("a `${` without its closing `}`".into()));
    }
    Ok(out)
}

fn value_of(name: &str, env: &dyn Lookup, unset: &mut Vec<String>) -> String {
    match env.get(name) {
        Some(v) => v,
        None => {
            if !unset.iter().any(|u| u == name) {
                unset.push(name.to_string());
            }
            String::new()
        }
    }
}

/// After `${`: NAME, then `}` or an operator and its word, then `}`.
fn braced(
    c: &[char],
    pos: &mut usize,
    env: &dyn Lookup,
    unset: &mut Vec<String>,
) -> Result<String, Problem> {
    let start = *pos;
    while *pos < c.len() && is_name(c[*pos]) {
        *pos += 1;
    }
    let name: String = c[start..*pos].iter().collect();
    if name.is_empty() || !is_name_start(name.chars().next().unwrap_or('0')) {
        let rest: String = c[start..].iter().take(20).collect();
        return Err(Problem::Syntax(format!(
            "`${{{rest}` does not start with a variable name"
        )));
    }
    let Some(&op) = c.get(*pos) else {
        return Err(Problem::Syntax(format!("`${{{name}` has no closing `}}`")));
    };
    if op == '}' {
        *pos += 1;
        return Ok(value_of(&name, env, unset));
    }
    let colon = op == ':';
    let op = if colon {
        *pos += 1;
        match c.get(*pos) {
            Some(&o) => o,
            None => {
                return Err(Problem::Syntax(format!("`${{{name}:` has no closing `}}`")));
            }
        }
    } else {
        op
    };
    if !matches!(op, '-' | '?' | '+') {
        return Err(Problem::Syntax(format!(
            "`${{{name}{}{op}`: expected `}}`, `:-`, `-`, `:?`, `?`, `:+` or `+`",
            if colon { ":" } else { "" }
        )));
    }
    *pos += 1;
    // the word is expanded only when it is used, but parsed either way
    let mut scratch = Vec::new();
    let word = expand(c, pos, env, &mut scratch, true)?;
    *pos += 1; // the closing `}`
    let value = env.get(&name);
    let has = match &value {
        Some(v) => !(colon && v.is_empty()),
        None => false,
    };
    let used_word = match op {
        '-' => !has,
        '+' => has,
        _ => false,
    };
    if used_word {
        for u in scratch {
            if !unset.contains(&u) {
                unset.push(u);
            }
        }
    }
    Ok(match op {
        '-' => {
            if has {
                value.unwrap_or_default()
            } else {
                word
            }
        }
        '+' => {
            if has {
                word
            } else {
                String::new()
            }
        }
        _ => {
            if has {
                value.unwrap_or_default()
            } else {
                return Err(Problem::Required {
                    var: name,
                    message: word,
                });
            }
        }
    })
}

/// `$` → `$$` in every string of `v`, so docker reads the values devenv computed as they are.
pub fn escape(v: &Value) -> Value {
    match v {
        Value::String(s) if s.contains('$') => Value::String(s.replace('$', "$$")),
        Value::Sequence(seq) => Value::Sequence(seq.iter().map(escape).collect()),
        Value::Mapping(m) => Value::Mapping(
            m.iter()
                .map(|(k, v)| (k.clone(), escape(v)))
                .collect::<Mapping>(),
        ),
        Value::Tagged(t) => Value::Tagged(Box::new(serde_yaml_ng::value::TaggedValue {
            tag: t.tag.clone(),
            value: escape(&t.value),
        })),
        other => other.clone(),
    }
}

/// One failure, with the path of the value (`services.web.image`) for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub path: String,
    pub text: String,
    pub problem: Problem,
}

/// Interpolates every string value of `v` (keys are left alone, as in compose). A value stays a
/// string: where docker's loader reads a number or a boolean (`replicas: ${N:-2}`) devenv casts
/// it afterwards, as docker does (`render::compose::cast`).
/// `x-` extension fields are interpolated like the rest. Returns the unset variables used.
pub fn interpolate_value(
    v: &mut Value,
    env: &dyn Lookup,
    path: &str,
    unset: &mut Vec<String>,
) -> Result<(), Failure> {
    let mut left = MAX_INTERPOLATED_BYTES;
    within(v, env, path, unset, &mut left)
}

/// [`interpolate_value`] spending `left` bytes of output.
fn within(
    v: &mut Value,
    env: &dyn Lookup,
    path: &str,
    unset: &mut Vec<String>,
    left: &mut u64,
) -> Result<(), Failure> {
    match v {
        Value::String(s) if s.contains('$') => {
            let text = s.clone();
            let fail = |problem| Failure {
                path: path.to_string(),
                text: text.clone(),
                problem,
            };
            let out = interpolate(&text, env, unset).map_err(fail)?;
            *left = left
                .checked_sub(out.len() as u64)
                .ok_or_else(|| fail(Problem::TooLarge))?;
            *v = Value::String(out);
        }
        Value::Sequence(seq) => {
            for (i, item) in seq.iter_mut().enumerate() {
                within(item, env, &format!("{path}[{i}]"), unset, left)?;
            }
        }
        Value::Mapping(m) => {
            for (k, item) in m.iter_mut() {
                let key = k.as_str().map(String::from).unwrap_or_default();
                let p = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                within(item, env, &p, unset, left)?;
            }
        }
        Value::Tagged(t) => within(&mut t.value, env, path, unset, left)?,
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TAG" => Some("1.2".into()),
            "EMPTY" => Some(String::new()),
            "PORT" => Some("8080".into()),
            _ => None,
        }
    }

    fn run(s: &str) -> (Result<String, Problem>, Vec<String>) {
        let mut unset = Vec::new();
        let r = interpolate(s, &env, &mut unset);
        (r, unset)
    }

    #[test]
    fn forms() {
        assert_eq!(run("web:${TAG}").0.unwrap(), "web:1.2");
        assert_eq!(run("web:$TAG-x").0.unwrap(), "web:1.2-x");
        assert_eq!(run("${NOPE:-d}").0.unwrap(), "d");
        assert_eq!(run("${EMPTY:-d}").0.unwrap(), "d");
        assert_eq!(run("${EMPTY-d}").0.unwrap(), "");
        assert_eq!(run("${NOPE-d}").0.unwrap(), "d");
        assert_eq!(run("${TAG:+set}").0.unwrap(), "set");
        assert_eq!(run("${NOPE:+set}").0.unwrap(), "");
        assert_eq!(run("${NOPE:-${PORT}}").0.unwrap(), "8080");
        assert_eq!(run("${NOPE:-a ${TAG} b}").0.unwrap(), "a 1.2 b");
        assert_eq!(run("$$HOME and $$").0.unwrap(), "$HOME and $");
        assert!(
            matches!(run("cost: 5$ $1").0, Err(Problem::Syntax(_))),
            "docker refuses a lone `$`"
        );
        assert!(matches!(run("end$").0, Err(Problem::Syntax(_))));
        assert_eq!(run("cost: 5$$").0.unwrap(), "cost: 5$");
        assert_eq!(
            run("{{.Node.Hostname}}-{{.Task.Slot}}").0.unwrap(),
            "{{.Node.Hostname}}-{{.Task.Slot}}"
        );
    }

    #[test]
    fn unset_variables_are_empty_and_reported_once() {
        let (r, unset) = run("${NOPE}/$NOPE/${TAG:-${ALSO}}");
        assert_eq!(r.unwrap(), "//1.2");
        // ALSO was in a default that was not used
        assert_eq!(unset, vec!["NOPE".to_string()]);
        let (r, unset) = run("${NOPE:-${ALSO}}");
        assert_eq!(r.unwrap(), "");
        assert_eq!(unset, vec!["ALSO".to_string()]);
    }

    #[test]
    fn required_and_syntax_errors() {
        assert_eq!(
            run("${DB_PASSWORD:?set DB_PASSWORD}").0.unwrap_err(),
            Problem::Required {
                var: "DB_PASSWORD".into(),
                message: "set DB_PASSWORD".into()
            }
        );
        assert!(run("${EMPTY?x}").0.is_ok());
        assert!(matches!(
            run("${EMPTY:?x}").0,
            Err(Problem::Required { .. })
        ));
        assert!(matches!(run("${TAG").0, Err(Problem::Syntax(_))));
        assert!(matches!(run("${1X}").0, Err(Problem::Syntax(_))));
        assert!(matches!(run("${TAG:=x}").0, Err(Problem::Syntax(_))));
        assert!(matches!(run("${NOPE:-x").0, Err(Problem::Syntax(_))));
    }

    #[test]
    fn values_stay_strings_and_escape_round_trips() {
        let mut v: Value = serde_yaml_ng::from_str(
            "deploy: {replicas: '${N:-2}'}\nport: $PORT\nimage: a:$TAG\ncmd: echo $$HOME\n",
        )
        .unwrap();
        let mut unset = Vec::new();
        interpolate_value(&mut v, &env, "", &mut unset).unwrap();
        // docker's loader casts `replicas` itself (render::compose::cast); nothing else changes type
        assert_eq!(v["deploy"]["replicas"], Value::String("2".into()));
        assert_eq!(v["port"], Value::String("8080".into()));
        assert_eq!(v["image"], Value::String("a:1.2".into()));
        assert_eq!(v["cmd"], Value::String("echo $HOME".into()));
        let mut zero: Value = serde_yaml_ng::from_str("a: '${Z:-007}'").unwrap();
        interpolate_value(&mut zero, &env, "", &mut unset).unwrap();
        assert_eq!(zero["a"], Value::String("007".into()));
        let e = escape(&v);
        assert_eq!(e["cmd"], Value::String("echo $$HOME".into()));
        // docker reading the escaped file gets devenv's value back
        let mut again = e.clone();
        interpolate_value(&mut again, &|_: &str| None, "", &mut unset).unwrap();
        assert_eq!(again, v);
    }

    #[test]
    fn a_failure_names_the_value() {
        let mut v: Value = serde_yaml_ng::from_str(
            "services: {db: {environment: {PW: '${PW:?the database password}'}}}",
        )
        .unwrap();
        let f = interpolate_value(&mut v, &env, "", &mut Vec::new()).unwrap_err();
        assert_eq!(f.path, "services.db.environment.PW");
        assert_eq!(f.text, "${PW:?the database password}");
    }
}
