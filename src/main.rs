fn main() {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    // started as `ssh` by a docker call of a run: the run's shared SSH connection
    let rest: Vec<std::ffi::OsString> = args.collect();
    if let Some(code) = devenv::exec::ssh::run_as_shim(&argv0, &rest) {
        std::process::exit(code);
    }
    std::process::exit(devenv::main_with_args(std::env::args_os()));
}
