# The gateway's everyday commands. `just --list` shows them all.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Sync every package and the development tools into one environment (.venv).
setup:
    uv sync --all-packages --locked

# Run the whole gateway locally on 127.0.0.1 (GATEWAY_PORT, default 8080).
up *args: setup
    uv run --no-sync python -m scripts.stack up {{args}}

# Stop a stack started by `just up` in another terminal.
down:
    uv run --no-sync python -m scripts.stack down

# ruff (lint and format check) and mypy.
lint: setup
    uv run --no-sync ruff check .
    uv run --no-sync ruff format --check .
    uv run --no-sync mypy $(for d in packages/*/src/*/; do printf -- '-p %s ' "$(basename "$d")"; done) -p testsupport -p bench -p scripts

# Reformat and autofix what ruff can.
fmt: setup
    uv run --no-sync ruff format .
    uv run --no-sync ruff check --fix .

# Node.js and Chromium for the tests: apt-get installs them as root, else one line says what to.
prerequisites:
    @bash scripts/prerequisites.sh

# Lint, type check, then every test (pass pytest arguments to narrow it down).
test *args: prerequisites lint
    uv run --no-sync pytest {{args}}

# Benchmarks, printed as ratios against a baseline in the same run: `just bench echo`.
bench name="all": setup
    uv run --no-sync python -m bench {{name}}
