# The two commands of README.md: `make run` starts the whole system locally; `make test` runs every test.
.PHONY: run test lint tools template-lint lambda-build

VENV := .venv
TOOLS := $(VENV)/.installed

run:
	cargo run --release -p reserveplace-local -- $(ARGS)

# Test tools from PyPI into a local venv: the AWS emulator (moto), cfn-lint, cargo-lambda and zig.
$(TOOLS): tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

tools: $(TOOLS)

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

template-lint: tools
	$(VENV)/bin/cfn-lint template.yaml

# Every function as a Lambda bootstrap (x86_64 here; template.yaml deploys arm64). This check
# builds without LTO: LTO repeats whole-program optimisation for each of the 36 binaries (about two
# CPU-minutes each on this machine) and made no bootstrap smaller; `sam build` uses the full profile.
lambda-build: tools
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" CARGO_PROFILE_RELEASE_LTO=off \
		cargo lambda build --release -p reserveplace-lambda
	tests/check-lambda-artifacts.sh

# Unit, contract (embedded and AWS adapters; the emulator is started by the tests), events/,
# end-to-end and torture tests; then the template lint and the Lambda build.
test: tools lint template-lint
	cargo test --workspace
	$(MAKE) lambda-build
