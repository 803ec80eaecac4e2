//! The hosts modules compile on their own, exactly as the fuzz target (`fuzz/`) includes them: a
//! change that makes them depend on the rest of devenv breaks here, not first in CI's fuzz step.

#[path = "../src/hosts/block.rs"]
#[allow(dead_code)]
mod block;
#[path = "../src/hosts/edit.rs"]
#[allow(dead_code)]
mod edit;
#[path = "../src/hosts/parse.rs"]
#[allow(dead_code)]
mod parse;

#[test]
fn standalone_modules_round_trip() {
    let names = vec!["a.test".to_string()];
    let spec = block::BlockSpec {
        project: "p",
        profile: "local",
        names: &names,
        ipv6: true,
    };
    let src = b"127.0.0.1 localhost";
    let applied = block::apply(src, &spec, parse::Ending::Lf).unwrap();
    assert_eq!(block::remove(&applied, "p").unwrap(), src);
}
