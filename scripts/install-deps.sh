#!/usr/bin/env bash
# Installs what `make test` needs on a fresh Debian machine and skips what is there:
# Debian packages, the Rust components for linting, and a Python venv with the
# reference client (huggingface_hub) under target/venv.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential pkg-config python3 python3-venv
  # the desktop app (Tauri 2 on WebKitGTK), its tray, and running it headless
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libssl-dev
  xvfb xauth dbus dbus-x11 at-spi2-core webkit2gtk-driver imagemagick
  # the installer test: find the installed app's window
  x11-utils
  # a FUSE mount for the test of the watcher on network-like file systems
  bindfs
  # an exFAT disk (FUSE, on a loop device) for the test of a move to a disk without symlinks
  exfatprogs exfat-fuse
  # make test-windows: the linker for x86_64-pc-windows-gnu, and Wine to run what it builds
  gcc-mingw-w64-x86-64 wine wine64
)
VENV=target/venv

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

install_apt() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  log "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

check_rust() {
  command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup (https://rustup.rs)" >&2; exit 1; }
  for comp in rustfmt clippy; do
    if ! cargo "${comp/rustfmt/fmt}" --version >/dev/null 2>&1; then
      log "adding Rust component $comp"
      rustup component add "$comp"
    fi
  done
  # make test-windows builds the core and the CLI for Windows.
  if ! rustup target list --installed | grep -qx x86_64-pc-windows-gnu; then
    log "adding Rust target x86_64-pc-windows-gnu"
    rustup target add x86_64-pc-windows-gnu
  fi
}

install_venv() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import huggingface_hub, Xlib, sys; sys.exit(huggingface_hub.__version__ != "2.5.0")' 2>/dev/null; then
    return
  fi
  log "creating $VENV with huggingface_hub (the reference client) and python-xlib"
  mkdir -p target
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
}

# The previous release, to check that a cache it wrote still reads right
# (tests/tests/interop.rs); only huggingface_hub, in a venv of its own.
VENV_HF24=target/venv-hf24
install_venv_hf24() {
  if [ -x "$VENV_HF24/bin/hf" ] && "$VENV_HF24/bin/python" -c 'import huggingface_hub, sys; sys.exit(huggingface_hub.__version__ != "2.4.0")' 2>/dev/null; then
    return
  fi
  log "creating $VENV_HF24 with huggingface_hub 2.4.0 (the previous release)"
  python3 -m venv "$VENV_HF24"
  "$VENV_HF24/bin/pip" install --quiet --disable-pip-version-check huggingface_hub==2.4.0
}

install_node() {
  if ! command -v npm >/dev/null; then
    APT_PACKAGES=(nodejs npm)
    install_apt
  fi
  # Only when the lock file changed since the last install. `npm install`, not
  # `npm ci`: machines set to omit registry URLs from lock files (as ours are)
  # write locks that `npm ci` rejects; `npm install` follows the lock all the same.
  if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    log "installing the UI's npm packages"
    (cd ui && npm install --no-audit --no-fund)
  fi
}

install_tauri_driver() {
  command -v tauri-driver >/dev/null && return
  log "installing tauri-driver (WebDriver for the end-to-end tests)"
  cargo install tauri-driver --locked --quiet
}

install_apt
check_rust
install_venv
install_venv_hf24
install_node
install_tauri_driver
