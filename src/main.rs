//! rpod: rootless, daemonless containers.
//!
//! `main` only runs the command line through the library's CLI and turns a
//! failure into an exit code (`rpod::cli::exit`, the one place that decides
//! them). The work lives in the `rpod` library; see README.md ("Where things
//! live").

fn main() {
    let code = match rpod::cli::run() {
        Ok(()) => 0,
        Err(failure) => {
            let (code, lines) = rpod::cli::exit::outcome(&failure);
            if let Some(lines) = lines {
                eprintln!("{lines}");
            }
            code
        }
    };
    std::process::exit(code);
}
