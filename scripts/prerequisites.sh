#!/usr/bin/env bash
# What the test suite needs beyond Python packages (which `just setup` syncs):
#   - Node.js 18+ with npx: the proxy tests wrap npm-published MCP servers
#     (@modelcontextprotocol/server-everything; its dependencies want node >=18);
#   - Chromium: tests/test_browser_signin.py drives it through Playwright.
# As root on Debian/Ubuntu, installs what is missing with apt-get; otherwise prints
# one line naming exactly what to install and exits 1. Nothing missing: silent, exit 0.
# `just test` runs it first (and so does CI, through `just test`).
set -euo pipefail

NODE_MIN=18

apt_wanted=()
missing=()

check() {
    apt_wanted=()
    missing=()
    local major
    major=$(node -e 'console.log(process.versions.node.split(".")[0])' 2>/dev/null || echo 0)
    if [ "$major" -lt "$NODE_MIN" ]; then
        apt_wanted+=(nodejs npm)
        missing+=("Node.js ${NODE_MIN}+ with npm/npx")
    elif ! command -v npx >/dev/null; then
        apt_wanted+=(npm)
        missing+=("npx (npm)")
    fi
    if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null \
        && ! command -v google-chrome >/dev/null; then
        apt_wanted+=(chromium)
        missing+=("Chromium")
    fi
}

say_what_to_install() {
    local what=${missing[0]} item
    for item in "${missing[@]:1}"; do what+=" and $item"; done
    echo "The tests need $what: \`sudo apt-get install ${apt_wanted[*]}\` (Debian/Ubuntu)," \
        "or run \`just test\` as root to have them installed." >&2
}

check
[ "${#apt_wanted[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    say_what_to_install
    exit 1
fi

echo "Installing ${apt_wanted[*]} with apt-get, for the tests …"
log=$(mktemp -t prerequisites-apt.XXXXXX.log)
apt-get update -qq >"$log" 2>&1 || { tail -n 40 "$log" >&2; exit 1; }

if [[ " ${apt_wanted[*]} " == *" nodejs "* ]]; then
    candidate=$(apt-cache policy nodejs | awk '/Candidate:/ {print $2}')
    candidate=${candidate#*:}  # drop an epoch
    if [ -z "$candidate" ] || [ "$candidate" = "(none)" ] || [ "${candidate%%.*}" -lt "$NODE_MIN" ]; then
        echo "This system's nodejs package (${candidate:-none}) is older than Node.js $NODE_MIN," \
            "which the tests' npm-published MCP servers need: install Node.js $NODE_MIN+ from https://nodejs.org." >&2
        exit 1
    fi
fi

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${apt_wanted[@]}" >>"$log" 2>&1 || { tail -n 40 "$log" >&2; exit 1; }
rm -f "$log"

check
if [ "${#apt_wanted[@]}" -gt 0 ]; then
    say_what_to_install
    exit 1
fi
echo "Installed: node $(node --version), npx $(npx --version), $(chromium --version 2>/dev/null || true)"
