//! `cargo fuzz run hosts_roundtrip`: the hosts parser is lossless for every input, and removing
//! the block after applying it gives back the input byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;

// devenv's own hosts modules, compiled in as they are (they depend only on nom/serde/thiserror;
// `block` reaches `parse` as `super::parse`, the crate root here). What only the CLI uses is
// unused here, which is expected.
#[allow(dead_code)]
#[path = "../../src/hosts/block.rs"]
mod block;
#[allow(dead_code)]
#[path = "../../src/hosts/edit.rs"]
mod edit;
#[allow(dead_code)]
#[path = "../../src/hosts/parse.rs"]
mod parse;

use block::{BlockSpec, apply, find_block, remove};
use parse::{Ending, is_utf16, parse, parse_lossless};

fuzz_target!(|data: &[u8]| {
    assert_eq!(parse_lossless(data).print(), data);
    if is_utf16(data) {
        assert!(parse(data).is_err());
        return;
    }
    let names: Vec<String> = ["myblog.test", "api.myblog.test"].iter().map(|s| s.to_string()).collect();
    let spec = BlockSpec { project: "myblog", profile: "local", names: &names, ipv6: data.len() % 2 == 0 };
    let eol = if data.first().is_some_and(|b| b & 1 == 1) { Ending::CrLf } else { Ending::Lf };
    let has_block = find_block(&parse(data).unwrap(), "myblog");
    match has_block {
        // a file that already holds (or has damaged) markers: apply must not panic
        Err(_) | Ok(Some(_)) => {
            let _ = apply(data, &spec, eol);
            let _ = remove(data, "myblog");
        }
        Ok(None) => {
            let a = apply(data, &spec, eol).expect("apply on a file without the block");
            assert_eq!(apply(&a, &spec, eol).unwrap(), a, "apply is idempotent");
            assert_eq!(remove(&a, "myblog").unwrap(), data, "remove(apply(x)) == x");
        }
    }
});
