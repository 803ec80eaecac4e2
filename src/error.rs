//! Errors that carry an exit code and tell the user what to do next.
//!
//! Everything else travels as `anyhow::Error`; `main` looks for these types in the chain to pick the
//! exit code: 2 for usage and configuration errors, 3 for timeouts, 1 for every other failure.

use std::fmt;
use std::path::{Path, PathBuf};

/// Exit code for a configuration or usage error (nothing was changed).
pub const EXIT_CONFIG: i32 = 2;
/// Exit code when something did not converge in time.
pub const EXIT_TIMEOUT: i32 = 3;
/// Exit code for a failure.
pub const EXIT_FAILURE: i32 = 1;

/// An error in a project file: names the file, line and column, shows the line, says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when the position is unknown.
    pub line: usize,
    /// 1-based; 0 when the position is unknown.
    pub column: usize,
    pub message: String,
    /// The offending source line, if known.
    pub snippet: Option<String>,
    pub hint: Option<String>,
}

impl ConfigError {
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.into(),
            line: 0,
            column: 0,
            message: message.into(),
            snippet: None,
            hint: None,
        }
    }

    /// Points the error at `line:column` (1-based) of `source`.
    pub fn at(mut self, source: &str, line: usize, column: usize) -> Self {
        self.line = line;
        self.column = column;
        self.snippet = source
            .lines()
            .nth(line.saturating_sub(1))
            .map(|l| l.trim_end_matches('\r').to_string());
        self
    }

    /// Points the error at the first occurrence of `needle` in `source` at or after byte `from`.
    pub fn at_text(self, source: &str, needle: &str) -> Self {
        // a value with control characters appears escaped in the source: look for the part
        // before the first one
        let head: String = needle.chars().take_while(|c| !c.is_control()).collect();
        match locate(source, needle, 0).or_else(|| locate(source, &head, 0)) {
            Some((l, c)) => self.at(source, l, c),
            None => self,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn location(&self) -> String {
        let f = display_path(&self.file);
        match (self.line, self.column) {
            (0, _) => f,
            (l, 0) => format!("{f}:{l}"),
            (l, c) => format!("{f}:{l}:{c}"),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)?;
        if let Some(s) = &self.snippet {
            let num = self.line.to_string();
            write!(f, "\n {num} | {s}")?;
            if self.column > 0 {
                let pad: String = s
                    .chars()
                    .take(self.column - 1)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                write!(f, "\n {} | {pad}^", " ".repeat(num.len()))?;
            }
        }
        if let Some(h) = &self.hint {
            write!(f, "\nhint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A failure with a message and a suggested next step, and the exit code to use.
#[derive(Debug, Clone)]
pub struct UserError {
    pub message: String,
    pub hint: Option<String>,
    pub code: i32,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> Self {
        UserError {
            message: message.into(),
            hint: None,
            code: EXIT_FAILURE,
        }
    }
    /// A usage error (exit 2): the user asked for something that does not exist or cannot be.
    pub fn usage(message: impl Into<String>) -> Self {
        UserError::new(message).code(EXIT_CONFIG)
    }
    pub fn timeout(message: impl Into<String>) -> Self {
        UserError::new(message).code(EXIT_TIMEOUT)
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\nhint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UserError {}

/// The exit code for an error chain.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if cause.downcast_ref::<ConfigError>().is_some() {
            return EXIT_CONFIG;
        }
        if let Some(u) = cause.downcast_ref::<UserError>() {
            return u.code;
        }
    }
    EXIT_FAILURE
}

/// What a failed run leaves on the machine (each change with its undo): the context of the
/// failure, said after it.
#[derive(Debug)]
pub struct LeftInPlace(pub String);

impl std::fmt::Display for LeftInPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LeftInPlace {}

/// An error as the one JSON document `--json` prints: `{"error": {"message", "hint",
/// "exit_code", "file", "line", "column", "causes"}}`.
pub fn to_json(err: &anyhow::Error, code: i32) -> serde_json::Value {
    let mut file = None;
    let mut line = None;
    let mut column = None;
    let mut hint = None;
    let mut message = err.to_string();
    // what the error was wrapped in (`while doing X`), when the cause is not the top
    let mut wrapped = false;
    for (i, cause) in err.chain().enumerate() {
        if let Some(c) = cause.downcast_ref::<ConfigError>() {
            wrapped = i > 0;
            file = Some(c.file.display().to_string());
            line = (c.line > 0).then_some(c.line);
            column = (c.column > 0).then_some(c.column);
            hint = c.hint.clone();
            message = c.message.clone();
            break;
        }
        if let Some(u) = cause.downcast_ref::<UserError>() {
            wrapped = i > 0;
            hint = u.hint.clone();
            message = u.message.clone();
            break;
        }
    }
    let causes: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
    serde_json::json!({
        "error": {
            "message": message,
            "hint": hint,
            "exit_code": code,
            "file": file,
            "line": line,
            "column": column,
            "context": wrapped.then(|| err.to_string()),
            "causes": causes,
        }
    })
}

/// 1-based line and column of the first `needle` at or after byte `from`.
pub fn locate(source: &str, needle: &str, from: usize) -> Option<(usize, usize)> {
    if needle.is_empty() || from > source.len() {
        return None;
    }
    let idx = source[from..].find(needle)? + from;
    Some(line_col(source, idx))
}

/// 1-based line and column (in characters) of byte offset `idx`.
pub fn line_col(source: &str, idx: usize) -> (usize, usize) {
    let before = &source[..idx.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

/// A path as the user should see it: relative to the current directory when below it.
pub fn display_path(p: &Path) -> String {
    if let Ok(cwd) = std::env::current_dir()
        && let Ok(rel) = p.strip_prefix(&cwd)
        && !rel.as_os_str().is_empty()
    {
        return rel.display().to_string();
    }
    p.display().to_string()
}

/// The closest candidate to `word` by edit distance, when it is close enough to be a likely typo.
pub fn did_you_mean<'a, I: IntoIterator<Item = &'a str>>(
    word: &str,
    candidates: I,
) -> Option<&'a str> {
    let w = word.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = levenshtein(&w, &c.to_ascii_lowercase());
        let limit =
            (c.chars().count().max(w.chars().count()) / 3).max(1) + usize::from(w.len() > 6);
        let prefix = c.starts_with(word) || word.starts_with(c);
        if (d <= limit || prefix) && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance counting a swap of two neighbours as one edit (optimal string alignment).
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j - 1] + cost)
                .min(d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        let keys = ["domain", "docker", "hosts", "tls", "replicas"];
        assert_eq!(did_you_mean("domian", keys), Some("domain"));
        assert_eq!(did_you_mean("replica", keys), Some("replicas"));
        assert_eq!(did_you_mean("host", keys), Some("hosts"));
        assert_eq!(did_you_mean("zzzzzz", keys), None);
        assert_eq!(did_you_mean("lcoal", ["local", "server"]), Some("local"));
        assert_eq!(did_you_mean("wbe", ["proxy", "web", "api"]), Some("web"));
    }

    #[test]
    fn config_error_shows_line_and_caret() {
        let src = "a: 1\nbad: [\n";
        let e = ConfigError::new("/x/p.yaml", "oops")
            .at(src, 2, 6)
            .hint("fix it");
        let s = e.to_string();
        assert!(s.starts_with("/x/p.yaml:2:6: oops"), "{s}");
        assert!(s.contains(" 2 | bad: ["), "{s}");
        assert!(s.contains("   |      ^"), "{s}");
        assert!(s.ends_with("hint: fix it"), "{s}");
    }

    #[test]
    fn locate_is_one_based() {
        assert_eq!(locate("ab\ncd", "d", 0), Some((2, 2)));
        assert_eq!(line_col("x", 0), (1, 1));
    }
}
