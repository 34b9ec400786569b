//! The one bootstrap of every function: `_HANDLER` (the function's `Handler`) picks what it runs.
fn main() -> std::process::ExitCode {
    match reserveplace_lambda::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reserveplace bootstrap: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
