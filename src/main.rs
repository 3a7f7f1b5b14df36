//! rpod: rootless, daemonless containers.
//!
//! `main` only runs the command line through the library's CLI and turns the
//! result into an exit code. The work lives in the `rpod` library; see
//! README.md ("Where things live").

fn main() {
    let code = match rpod::cli::run() {
        Ok(()) => 0,
        Err(err) => {
            let (code, line) = rpod::error::classify(&err);
            if let Some(line) = line {
                eprintln!("{line}");
            }
            code
        }
    };
    std::process::exit(code);
}
