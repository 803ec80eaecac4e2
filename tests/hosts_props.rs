//! Property tests of the hosts parser and block editor: lossless for every byte string, and
//! `remove ∘ apply` is the identity.

use devenv::hosts::block::{BlockSpec, apply, find_block, remove};
use devenv::hosts::parse::{Ending, is_utf16, parse, parse_lossless};
use proptest::prelude::*;

/// Hosts-like bytes: fragments that exercise endings, BOMs, markers, zone ids and junk.
fn hostsish() -> impl Strategy<Value = Vec<u8>> {
    let frag = prop_oneof![
        Just(b"127.0.0.1".to_vec()),
        Just(b"::1".to_vec()),
        Just(b"fe80::1%lo0".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"#".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"localhost".to_vec()),
        Just(b"a.test,b.test".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"\xff\xc3".to_vec()),
        Just(b"# >>> devenv other >>>".to_vec()),
        Just(b"# <<< devenv other <<<".to_vec()),
        Just(b"# Added by Docker Desktop".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(frag, 0..40).prop_map(|v| v.concat())
}

fn names() -> Vec<String> {
    (0..12).map(|i| format!("n{i}.myblog.test")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn print_of_parse_is_identity(x in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert_eq!(parse_lossless(&x).print(), x);
    }

    #[test]
    fn hostsish_print_of_parse_is_identity(x in hostsish()) {
        prop_assert_eq!(parse_lossless(&x).print(), x);
    }

    #[test]
    fn remove_after_apply_is_identity(x in hostsish(), ipv6 in any::<bool>(), crlf in any::<bool>()) {
        prop_assume!(!is_utf16(&x));
        let n = names();
        let spec = BlockSpec { project: "myblog", profile: "local", names: &n, ipv6 };
        let eol = if crlf { Ending::CrLf } else { Ending::Lf };
        let a = apply(&x, &spec, eol).unwrap();
        let h = parse(&a).unwrap();
        prop_assert!(find_block(&h, "myblog").unwrap().is_some());
        prop_assert_eq!(apply(&a, &spec, eol).unwrap(), a.clone());
        prop_assert_eq!(remove(&a, "myblog").unwrap(), x);
    }
}
