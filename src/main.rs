//! The `phocas` command-line tool: a thin wrapper around the library (see `phocas --help`).

mod cli;

fn main() {
    std::process::exit(cli::main());
}
