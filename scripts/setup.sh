#!/usr/bin/env bash
# Installs what building, running and testing Release Desk needs, and says
# what it installs. Safe to run again: it only installs what is missing.
# Debian/Ubuntu: system packages through apt-get (with sudo when not root);
# npm packages with `npm ci`; cargo tools with `cargo install --locked`.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1;34msetup:\033[0m %s\n' "$*"; }
fail() { printf '\033[1;31msetup:\033[0m %s\n' "$*" >&2; exit 1; }

# --- system packages --------------------------------------------------------
packages=(
  build-essential pkg-config curl file bc
  libwebkit2gtk-4.1-dev libsoup-3.0-dev librsvg2-dev libayatana-appindicator3-dev
  libsecret-1-dev libdbus-1-dev libssl-dev
  webkit2gtk-driver xvfb xauth dbus-x11 gnome-keyring
  fonts-dejavu-core nginx-light
)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || fail "missing system packages (${missing[*]}) and no apt-get: install them with your package manager"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || fail "missing system packages (${missing[*]}): run as root or install sudo"
    sudo="sudo"
  fi
  say "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "system packages: all present"
fi

# --- Rust toolchain and cargo tools -------------------------------------------
command -v cargo >/dev/null || fail "cargo not found: install Rust from https://rustup.rs"
rust_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
[ "${rust_minor:-0}" -ge 89 ] || fail "$(rustc --version) is too old: Rust 1.89 or newer is needed (rustup update)"
if command -v rustup >/dev/null; then
  for component in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
      say "installing rust component: $component"
      rustup component add "$component"
    fi
  done
fi
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v tauri-driver >/dev/null; then
  say "installing cargo tool: tauri-driver 2.x"
  cargo install tauri-driver --locked --version '^2' --quiet
else
  say "cargo tools: tauri-driver present"
fi

# --- Node and the npm packages (the UI's; Prism for the contract tests) -------
command -v node >/dev/null || fail "node not found: install Node.js 20.19 or newer"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || fail "Node.js $(node --version) is too old: 20.19 or newer is needed"
# npm_ci DIR WHAT: `npm ci` in DIR when its node_modules is missing or older
# than its package-lock.json (a stamp file in node_modules records the install).
npm_ci() {
  local dir=$1 what=$2
  local stamp=$dir/node_modules/.release-desk-installed
  if [ -f "$stamp" ] && [ ! "$dir/package-lock.json" -nt "$stamp" ]; then
    say "npm packages ($what): up to date"
    return
  fi
  say "installing npm packages for $what (npm ci in $dir/)"
  # `npm ci` refuses a lock file that lacks the other platforms' builds of
  # packages such as rollup, which happens when the registry in use (a mirror)
  # carries only this platform's. Then install exactly the locked versions
  # without rewriting the lock file.
  local ci_log
  ci_log=$(mktemp -t release-desk-npm-ci.XXXXXX)
  if ! (cd "$dir" && npm ci --no-fund --no-audit --loglevel=error 2>"$ci_log"); then
    # Only the other platforms' builds may be missing (names like
    # @rollup/rollup-darwin-arm64); anything else is a real lock mismatch.
    # awk rather than grep: finding nothing is an answer here, not an error.
    local platform='-(android|darwin|freebsd|openbsd|netbsd|sunos|aix|win32|openharmony)-|-linux-(arm|arm64|ia32|loong64|mips64el|ppc64|riscv64|s390x)(-|@)|-linux-x64-musl@'
    local missing_lines others
    missing_lines=$(awk '/^npm error Missing: /' "$ci_log")
    others=$(awk -v re="$platform" '/^npm error Missing: / && $0 !~ re' "$ci_log")
    if [ -n "$missing_lines" ] && [ -z "$others" ]; then
      say "npm ci refused the lock file only for other platforms' builds missing from this registry; installing the locked versions with npm install --no-save"
      (cd "$dir" && npm install --no-save --no-fund --no-audit --loglevel=error)
    else
      cat "$ci_log" >&2
      fail "npm ci in $dir/ failed (see above)"
    fi
  fi
  rm -f "$ci_log"
  touch "$stamp"
}
npm_ci ui "the UI"
# Prism (@stoplight/prism-cli, pinned in tests/contracts/package.json): mock
# servers of the providers' API descriptions for the contract tests.
npm_ci tests/contracts "the contract tests' Prism mock server"
say "ready"
