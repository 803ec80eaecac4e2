//! Text diffs, as `diff -u` prints them (the hosts file's change, a config between profiles).

/// A unified diff with 3 lines of context.
pub fn unified(a: &str, b: &str, name_a: &str, name_b: &str) -> String {
    similar::TextDiff::from_lines(a, b)
        .unified_diff()
        .context_radius(3)
        .header(name_a, name_b)
        .to_string()
}
