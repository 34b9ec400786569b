# The two commands of README.md: `make run` starts the whole system locally; `make test` runs every test.
.PHONY: run test check e2e lint tools docs-check template-lint template-check workflow-lint lambda-build seed-httpie debug-bins

VENV := .venv
TOOLS := $(VENV)/.installed

# Development mode on loopback: `dev:<user>` tokens, /_local (events, faults, token minting for
# the web page). Without it the runtime accepts only JWTs of its issuer (docs/api.md, "Identity").
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

# The inner loop: format, lints, the docs check and every crate's own unit tests plus the storage
# and saga contract suites on the embedded adapters (no emulator, no browser, no end-to-end run).
check: lint docs-check
	cargo test --workspace --lib --bins
	cargo test -p reserveplace-contract -p reserveplace-local-store -p reserveplace-local-sfn -p reserveplace-wiring

# The end-to-end suites against the real binary over HTTP (tests/e2e.rs: one module per area) and
# the bounded torture run.
e2e:
	cargo test -p reserveplace-local --test e2e --test torture

# Every debug binary (the local runtime, the load tool, the probe, the reference server) in the
# same build as the tests: one feature set, so nothing `cargo test --workspace` built is built again
# (`cargo build -p X` alone would resolve other features and recompile the shared dependencies).
debug-bins:
	cargo build --workspace --all-targets

# README and docs/: README within 200 lines and quoting no measured figure, every link and path
# real, the handler table equal to the registry, the template and the state machine.
docs-check:
	python3 tests/docs/check_docs.py

# The seed walkthrough as docs/api.md writes it, with httpie, against a fresh local runtime.
seed-httpie: tools debug-bins
	tests/seed-httpie.sh target/debug/reserveplace-local

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

# The one Lambda bootstrap every function runs (x86_64 here), with the size-optimised `lambda`
# profile (Cargo.toml; `sam build` gets the same settings, see the deploy workflow); the check runs
# it to see it dispatch on _HANDLER and stay within its size budget.
lambda-build: tools
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --profile lambda -p reserveplace-lambda --bin reserveplace
	tests/check-lambda-artifacts.sh

# The cold-start probe on two functions (the bootstrap lambda-build made, against the AWS
# emulator) and the cost model on its shipped measurements: both run and report what they should.
.PHONY: probe-smoke
probe-smoke: tools debug-bins
	target/debug/reserveplace-probe cold --handler place-register --handler reservation-catalogue \
	  | tee target/probe-smoke.txt
	test "$$(grep -cE '^(place-register|reservation-catalogue) .* ok$$' target/probe-smoke.txt)" = 2
	target/debug/reserveplace-probe cost --duration payment-authorize=50 | tee target/probe-cost.txt
	grep -q '^confirmed (instant book) ' target/probe-cost.txt
	grep -q "the seed's always-on cluster" target/probe-cost.txt

# SAM's own `sam local invoke` on every function of template.yaml with its sample from events/, in
# the samples' story, against the AWS emulator, each answer checked; then `sam local start-api`
# serving a seed facade route and a /v1 route (tests/sam-local.sh). No Docker: Podman serves the
# Docker API (installed from Debian if missing, with a stand-in for SAM's base image built once).
.PHONY: sam-local
sam-local: tools lambda-build debug-bins
	tests/sam-local.sh

# schemathesis against a fresh local runtime (debug build): every operation of openapi.yaml with
# generated valid and invalid requests plus stateful link sequences, as a customer and an owner;
# zero server errors and zero contract violations (tests/api-fuzz.sh, tests/schemathesis.toml).
.PHONY: api-fuzz
api-fuzz: tools debug-bins
	tests/api-fuzz.sh target/debug/reserveplace-local

# The template and workflow checks; unit, contract (embedded and AWS adapters; the emulator is
# started by the tests), events/, end-to-end and torture tests; then the Lambda build, its probe and
# SAM's own sam local on every function.
test: tools lint docs-check template-lint template-check workflow-lint
	cargo test --workspace
	$(MAKE) bench-smoke
	$(MAKE) seed-httpie
	$(MAKE) api-fuzz
	$(MAKE) lambda-build
	$(MAKE) probe-smoke
	$(MAKE) sam-local
	$(MAKE) web-test

# The load tool and its references, every scenario on tiny inputs against a fresh local runtime
# and hello-world server (debug build, a few seconds): it builds, runs, and reports 0 errors.
.PHONY: bench-smoke bench
bench-smoke: debug-bins
	functions/load/bench.sh smoke

# The figures of BENCHMARKS.md, each beside its same-run reference (release build; about three
# minutes on a quiet machine, plus the build).
bench:
	functions/load/bench.sh full

# The web page in a real browser: Debian's Chromium (installed if missing; never a downloaded
# browser) driven by playwright-core, against a fresh local runtime (debug build) at 1280 and
# 390 px: the booking flows, axe-core on every view, the phone layout; screenshots in
# target/web-artifacts/ (tests/web/web_test.cjs). fonts-nanum is installed when no Korean font
# is, so the Korean screenshots show words rather than empty boxes. CHROMIUM=<path> uses another
# Chromium build already installed (e.g. a CI image's Chrome) instead.
CHROMIUM ?= /usr/bin/chromium
.PHONY: web-test
web-test:
	test -x $(CHROMIUM) || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium; }
	command -v npm >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends nodejs npm; }
	fc-list :lang=ko 2>/dev/null | grep -q . || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends fonts-nanum; }
	cd tests/web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	$(MAKE) debug-bins
	CHROMIUM=$(CHROMIUM) node tests/web/web_test.cjs --bin target/debug/reserveplace-local
