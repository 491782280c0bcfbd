# Sourced by the scripts: where things are and how worker-build finds its helpers
# without downloading them (this project builds with no access beyond the registries).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ROOT
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"
export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
export LEGACY_VENV="$ROOT/e2e/legacy/.venv"

# The version of a crate as Cargo.lock resolved it.
locked_version() {
  awk -v n="$1" '$0 == "name = \"" n "\"" { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
