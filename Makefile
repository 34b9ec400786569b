# The two commands of README.md: `make run` starts the whole system locally; `make test` runs every test.
.PHONY: run test lint

run:
	cargo run --release -p reserveplace-local -- $(ARGS)

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

test: lint
	cargo test --workspace
