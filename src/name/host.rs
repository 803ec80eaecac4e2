//! Host name validation: RFC 1123 labels, punycode for non-ASCII, and nothing that could inject a
//! line or a second name into the hosts file.

/// Returns the name as it must appear in the hosts file (lowercase, punycode), or why it is refused.
pub fn normalize_name(name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("empty name".into());
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!(
            "contains the control character {:?}, which could inject a line into the hosts file",
            c
        ));
    }
    if name.chars().any(char::is_whitespace) {
        return Err("contains whitespace, which would add a second name to the line".into());
    }
    if name.contains('#') {
        return Err("contains `#`, which starts a comment in the hosts file".into());
    }
    if name.starts_with('-') {
        return Err("starts with `-`".into());
    }
    if name.contains(',') {
        return Err("contains `,` (one name per entry)".into());
    }
    if name.contains('*') {
        return Err("wildcards do not work in a hosts file; list each name".into());
    }
    let ascii = if name.is_ascii() {
        name.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(name)
            .map_err(|_| "is not a valid internationalised domain name".to_string())?
    };
    if ascii.len() > 253 {
        return Err(format!("is {} characters long (at most 253)", ascii.len()));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    for l in &labels {
        if l.is_empty() {
            return Err("has an empty label (`..`, or a leading or trailing dot)".into());
        }
        if l.len() > 63 {
            return Err(format!("label `{l}` is longer than 63 characters"));
        }
        if let Some(c) = l
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "label `{l}` contains `{c}`; only letters, digits and `-` are allowed (RFC 1123)"
            ));
        }
        if l.starts_with('-') || l.ends_with('-') {
            return Err(format!("label `{l}` starts or ends with `-`"));
        }
    }
    if labels
        .last()
        .is_some_and(|t| t.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("looks like an IP address, not a name".into());
    }
    Ok(ascii)
}

/// `.local` is resolved by mDNS on macOS and many Linux desktops before the hosts file is read.
pub fn mdns_warning(name: &str) -> Option<String> {
    (name == "local" || name.ends_with(".local")).then(|| {
        format!(
            "`{name}` ends in .local, which macOS and many Linux desktops resolve with mDNS (slow or \
             ignoring the hosts file); prefer .test"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(normalize_name("MyBlog.Test").unwrap(), "myblog.test");
        assert_eq!(
            normalize_name("api.myblog.test").unwrap(),
            "api.myblog.test"
        );
        assert_eq!(normalize_name("bücher.test").unwrap(), "xn--bcher-kva.test");
        assert_eq!(normalize_name("localhost").unwrap(), "localhost");
    }

    #[test]
    fn refuses_injection_and_junk() {
        for bad in [
            "",
            "a b.test",
            "a\nb.test",
            "a\rb",
            "evil.test\n1.2.3.4 bank.com",
            "a#b.test",
            "-x.test",
            "a..b",
            ".a",
            "a.",
            "under_score.test",
            "*.test",
            "1.2.3.4",
            "a,b",
            "x-.test",
            "tab\there",
        ] {
            assert!(normalize_name(bad).is_err(), "accepted {bad:?}");
        }
        let long = format!("{}.test", "a".repeat(64));
        assert!(normalize_name(&long).unwrap_err().contains("63"));
    }

    #[test]
    fn warns_for_local() {
        assert!(mdns_warning("myblog.local").is_some());
        assert!(mdns_warning("myblog.test").is_none());
    }
}
