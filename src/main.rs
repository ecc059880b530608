//! The `batchprobe` binary: a thin shell over the library's command line.

fn main() -> std::process::ExitCode {
    batchprobe::cli::main()
}
