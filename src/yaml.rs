//! YAML read with bounds set before the parser runs: every input devenv parses (a compose file,
//! an override file, devenv.yaml, a profile) goes through [`parse`].
//!
//! - **Depth** is measured by a linear scan of the text first ([`depth`]): flow brackets and
//!   block indentation (and `- - -` compact sequences), outside strings and comments. A document
//!   nested deeper than [`MAX_DEPTH`] is refused with its line before the parser sees it (the
//!   parser's own limit applies only after it has parsed, in quadratic time, everything).
//! - **Size after aliases**: the document is built by a deserializer that counts every node and
//!   every byte of every scalar as it is produced, so an anchor expanded a thousand times counts a
//!   thousand times; past [`MAX_EXPANDED_BYTES`] it stops, at a cost bounded by the limit.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};
use serde_yaml_ng::value::{Tag, TaggedValue};
use serde_yaml_ng::{Mapping, Value};

/// The deepest nesting accepted (compose files nest about 6 levels; 64 leaves room for anything
/// written by hand or by a tool).
pub const MAX_DEPTH: usize = 64;
/// The most a document may hold once its aliases are expanded: bytes of scalars (keys
/// included), with each node counted as 8 more.
pub const MAX_EXPANDED_BYTES: u64 = 32 << 20;

/// Why YAML was refused before or while it was parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Limit {
    #[error("it nests deeper than {MAX_DEPTH} levels (line {line})")]
    TooDeep { line: usize },
    #[error(
        "its aliases (`*name`) expand to more than {} MiB: a \"billion laughs\" document",
        MAX_EXPANDED_BYTES >> 20
    )]
    TooLarge,
}

/// What [`parse`] gives back.
#[derive(Debug)]
pub enum Error {
    /// Refused by a bound (line, when known).
    Limit(Limit),
    /// The parser's own error (its message and location are what YAML says).
    Yaml(serde_yaml_ng::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Limit(l) => l.fmt(f),
            Error::Yaml(e) => e.fmt(f),
        }
    }
}

/// A [`Limit`] as the config error of `file`, at its line when known.
pub fn limit_error(file: &std::path::Path, source: &str, l: &Limit) -> crate::error::ConfigError {
    let e = crate::error::ConfigError::new(file, format!("devenv does not read this YAML: {l}"));
    let e = match l {
        Limit::TooDeep { line } => e.at(source, *line, 1),
        Limit::TooLarge => match first_alias(source) {
            Some((line, col)) => e.at(source, line, col),
            None => e,
        },
    };
    e.hint(match l {
        Limit::TooDeep { .. } => {
            "a compose or devenv file never nests this deep; check the brackets and indentation"
        }
        Limit::TooLarge => {
            "devenv refuses YAML whose anchors and aliases multiply; write the values out"
        }
    })
}

/// Where the first alias (`*name`) is: after a space, `[`, `{` or `,`, outside comments.
fn first_alias(source: &str) -> Option<(usize, usize)> {
    for (n, line) in source.lines().enumerate() {
        let code = line.split(" #").next().unwrap_or(line);
        let b = code.as_bytes();
        for i in 0..b.len() {
            let before = if i == 0 { b' ' } else { b[i - 1] };
            if b[i] == b'*'
                && matches!(before, b' ' | b'[' | b'{' | b',')
                && b.get(i + 1)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                return Some((n + 1, i + 1));
            }
        }
    }
    None
}

/// Parses `text` within the bounds: depth first (a scan), then size as it builds.
pub fn parse(text: &str) -> Result<Value, Error> {
    depth(text).map_err(Error::Limit)?;
    let budget = Cell::new(MAX_EXPANDED_BYTES);
    let over = Cell::new(false);
    let de = serde_yaml_ng::Deserializer::from_str(text);
    match (Budget {
        left: &budget,
        over: &over,
    })
    .deserialize(de)
    {
        Ok(v) => Ok(v),
        Err(_) if over.get() => Err(Error::Limit(Limit::TooLarge)),
        // the parser's own guard against aliases of aliases counts the same thing
        Err(e) if e.to_string().contains("repetition limit exceeded") => {
            Err(Error::Limit(Limit::TooLarge))
        }
        Err(e) => Err(Error::Yaml(e)),
    }
}

/// Parses `text` within the bounds into `T` (devenv.yaml, a profile): the value is built within
/// the bounds first, then read as `T`.
pub fn parse_as<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Error> {
    // errors as the parser gives them for `T` (with line and column): the text is read as `T`
    // again, now known to be within the bounds (or to fail before them)
    let again = |first: Error| match serde_yaml_ng::from_str::<T>(text) {
        Ok(_) => Err(first),
        Err(e) => Err(Error::Yaml(e)),
    };
    match parse(text) {
        Ok(v) => match serde_yaml_ng::from_value::<T>(v) {
            Ok(t) => Ok(t),
            Err(e) => again(Error::Yaml(e)),
        },
        Err(Error::Limit(l)) => Err(Error::Limit(l)),
        Err(e) => again(e),
    }
}

/// The nesting of `text`, measured without parsing it: `Err` at the first line past
/// [`MAX_DEPTH`].
pub fn depth(text: &str) -> Result<usize, Limit> {
    let mut max = 0usize;
    let mut flow = 0usize;
    // block indentation levels (column of each open level)
    let mut indents: Vec<usize> = Vec::new();
    let mut quote: Option<char> = None;
    // a block scalar (`|`, `>`) whose lines are text: the indentation of the line that opened it
    let mut block_scalar: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let body = line.trim();
        if let Some(opened) = block_scalar {
            if body.is_empty() || indent > opened {
                continue;
            }
            block_scalar = None;
        }
        if quote.is_none() && flow == 0 {
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            if body == "---" || body == "..." || body.starts_with("--- ") {
                indents.clear();
                continue;
            }
            while indents.last().is_some_and(|&i| i >= indent) {
                indents.pop();
            }
            indents.push(indent);
        }
        // `- - - x`: each dash on the line opens a level
        let mut dashes = 0;
        if quote.is_none() && flow == 0 {
            let mut rest = body;
            while let Some(r) = rest
                .strip_prefix("- ")
                .or_else(|| rest.strip_prefix('-').filter(|r| r.is_empty()))
            {
                dashes += 1;
                rest = r.trim_start();
            }
        }
        let mut prev = ' ';
        let mut chars = line.chars().peekable();
        let mut last_plain = ' ';
        while let Some(c) = chars.next() {
            match quote {
                Some('\'') => {
                    if c == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                        } else {
                            quote = None;
                        }
                    }
                }
                Some(_) => {
                    if c == '\\' {
                        chars.next();
                    } else if c == '"' {
                        quote = None;
                    }
                }
                None => match c {
                    '#' if prev == ' ' || prev == '\t' => break,
                    '"' | '\'' if matches!(prev, ' ' | '\t' | '[' | '{' | ',' | ':' | '-') => {
                        quote = Some(c)
                    }
                    '[' | '{' => {
                        flow += 1;
                        max = max.max(indents.len() + dashes + flow);
                        if indents.len() + dashes + flow > MAX_DEPTH {
                            return Err(Limit::TooDeep { line: n + 1 });
                        }
                    }
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            if quote.is_none() && !c.is_whitespace() {
                last_plain = c;
            }
            prev = c;
        }
        // a block scalar starts: its text lines are not YAML structure
        if quote.is_none() && flow == 0 {
            let code = body.split(" #").next().unwrap_or(body).trim_end();
            let ind = code.trim_end_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
            if (ind.ends_with(": |")
                || ind.ends_with(": >")
                || ind == "|"
                || ind == ">"
                || ind.ends_with("- |")
                || ind.ends_with("- >"))
                && matches!(last_plain, '|' | '>' | '+' | '-' | '0'..='9')
            {
                block_scalar = Some(indent);
            }
        }
        let d = indents.len() + dashes + flow;
        max = max.max(d);
        if d > MAX_DEPTH {
            return Err(Limit::TooDeep { line: n + 1 });
        }
    }
    Ok(max)
}

/// Builds a [`Value`] while spending a budget of bytes.
struct Budget<'a> {
    left: &'a Cell<u64>,
    over: &'a Cell<bool>,
}

impl Budget<'_> {
    fn spend<E: de::Error>(&self, n: u64) -> Result<(), E> {
        match self.left.get().checked_sub(n + 8) {
            Some(l) => {
                self.left.set(l);
                Ok(())
            }
            None => {
                self.over.set(true);
                Err(E::custom("the document expands to too much data"))
            }
        }
    }

    fn again(&self) -> Budget<'_> {
        Budget {
            left: self.left,
            over: self.over,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Budget<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Budget<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        self.spend(1)?;
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        self.spend(8)?;
        Ok(Value::Number(i.into()))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        self.spend(8)?;
        Ok(Value::Number(u.into()))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        self.spend(8)?;
        Ok(Value::Number(f.into()))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        self.spend(s.len() as u64)?;
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        self.spend(s.len() as u64)?;
        Ok(Value::String(s))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.spend(1)?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.spend(1)?;
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.spend(1)?;
        let mut v = Vec::new();
        while let Some(x) = seq.next_element_seed(self.again())? {
            v.push(x);
        }
        Ok(Value::Sequence(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.spend(1)?;
        let mut m = Mapping::new();
        while let Some(k) = map.next_key_seed(self.again())? {
            let v = map.next_value_seed(self.again())?;
            if m.contains_key(&k) {
                return Err(de::Error::custom(format_args!(
                    "duplicate entry with key {}",
                    serde_yaml_ng::to_string(&k).unwrap_or_default().trim()
                )));
            }
            m.insert(k, v);
        }
        Ok(Value::Mapping(m))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        use serde::de::VariantAccess;
        let (tag, contents) = data.variant::<String>()?;
        self.spend(tag.len() as u64)?;
        if tag.is_empty() {
            return Err(de::Error::custom("empty YAML tag is not allowed"));
        }
        let value = contents.newtype_variant_seed(self.again())?;
        Ok(Value::Tagged(Box::new(TaggedValue {
            tag: Tag::new(tag),
            value,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_measured_before_parsing() {
        assert_eq!(depth("a: 1\n").unwrap(), 1);
        assert_eq!(depth("a:\n  b:\n    c: [1, {d: 2}]\n").unwrap(), 5);
        assert_eq!(depth("- - - x\n").unwrap(), 4);
        // strings, comments and block scalars are not structure
        assert_eq!(
            depth("a: \"[[[[\" # [[[[\nb: '{{{{'\nc: |\n  [[[[[[[[\n  {{{{{{\nd: 1\n").unwrap(),
            1
        );
        let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let t = std::time::Instant::now();
        assert_eq!(depth(&deep), Err(Limit::TooDeep { line: 1 }));
        assert!(parse(&deep).is_err());
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
        let mut block = String::new();
        for i in 0..100 {
            block.push_str(&format!("{}k{i}:\n", " ".repeat(i)));
        }
        assert!(matches!(depth(&block), Err(Limit::TooDeep { .. })));
    }

    #[test]
    fn aliases_count_every_time_they_expand() {
        let big = "x".repeat(300 * 1024);
        let mut doc = format!("a: &big \"{big}\"\nb: [");
        for i in 0..1000 {
            if i > 0 {
                doc.push_str(", ");
            }
            doc.push_str("*big");
        }
        doc.push_str("]\n");
        assert!(matches!(parse(&doc), Err(Error::Limit(Limit::TooLarge))));
        // a few aliases are fine
        let ok = "x: &a {p: 1}\ny: *a\nz: *a\n";
        let v = parse(ok).unwrap();
        assert_eq!(v["z"]["p"], Value::from(1));
    }

    #[test]
    fn tags_and_merge_keys_come_through() {
        let v = parse("a: !reset []\nb: !override {x: 1}\nbase: &b {p: 1}\nc:\n  <<: *b\n  q: 2\n")
            .unwrap();
        let Value::Tagged(t) = &v["a"] else {
            panic!("{v:?}")
        };
        assert_eq!(t.tag, Tag::new("reset"));
        let mut v = v;
        v.apply_merge().unwrap();
        assert_eq!(v["c"]["p"], Value::from(1));
    }

    #[test]
    fn errors_keep_the_parsers_words() {
        let Err(Error::Yaml(e)) = parse("a: [1, 2\n") else {
            panic!()
        };
        assert!(e.location().is_some());
    }
}
