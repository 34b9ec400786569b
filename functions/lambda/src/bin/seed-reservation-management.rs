fn main() -> Result<(), lambda_runtime::Error> {
    reserveplace_lambda::main(env!("CARGO_BIN_NAME"))
}
