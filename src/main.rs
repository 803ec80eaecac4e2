fn main() {
    std::process::exit(devenv::main_with_args(std::env::args_os()));
}
