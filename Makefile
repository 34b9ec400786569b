# The two commands of README.md: `make run` starts the whole system locally; `make test` runs every test.
.PHONY: run test lint tools template-lint template-check workflow-lint lambda-build

VENV := .venv
TOOLS := $(VENV)/.installed

# Development mode on loopback: `dev:<user>` tokens, /_local (events, faults, token minting for
# the web page). Without it the runtime accepts only JWTs of its issuer (README: "Identity").
run:
	cargo run --release -p reserveplace-local -- --dev $(ARGS)

# Test tools from PyPI into a local venv: the AWS emulator (moto), cfn-lint and the SAM transform,
# the workflow linters, cargo-lambda and zig.
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

# The template as CloudFormation sees it: packaged, SAM-transformed offline and linted (cycles
# included) for each value of every condition parameter, within CloudFormation's quotas.
template-check: tools
	$(VENV)/bin/python tests/cfn/check_template.py

# The GitHub Actions workflows: actionlint (with shellcheck on run: scripts) and zizmor's offline
# audits; zero findings.
workflow-lint: tools
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" actionlint
	$(VENV)/bin/zizmor --offline .github/workflows

# The one Lambda bootstrap every function runs (x86_64 here), with the release profile `sam build`
# uses; the check runs it to see it dispatch on _HANDLER.
lambda-build: tools
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release -p reserveplace-lambda --bin reserveplace
	tests/check-lambda-artifacts.sh

# schemathesis against a fresh local runtime (debug build): every operation of openapi.yaml with
# generated valid and invalid requests plus stateful link sequences, as a customer and an owner;
# zero server errors and zero contract violations (tests/api-fuzz.sh, tests/schemathesis.toml).
.PHONY: api-fuzz
api-fuzz: tools
	cargo build -p reserveplace-local
	tests/api-fuzz.sh target/debug/reserveplace-local

# The template and workflow checks; unit, contract (embedded and AWS adapters; the emulator is
# started by the tests), events/, end-to-end and torture tests; then the Lambda build.
test: tools lint template-lint template-check workflow-lint
	cargo test --workspace
	$(MAKE) api-fuzz
	$(MAKE) lambda-build
