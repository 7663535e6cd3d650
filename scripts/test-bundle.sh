#!/usr/bin/env bash
# The installer, tested as a user meets it: build the .deb, install it with
# apt-get, use the CLI from /usr/bin, start the installed app under Xvfb and
# see its window, close it to the tray and open it again, then remove it and
# check that nothing of it is left.
# Needs root (apt-get); `make test` runs it on CI, which is root.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_DEB_BYTES=$((15 * 1024 * 1024))
OUT=target/e2e
PKG=haid-models
mkdir -p "$OUT"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
fail() { echo "test-bundle: FAIL: $*" >&2; exit 1; }

scripts/bundle.sh
deb=$(ls -t target/release/bundle/deb/*.deb | head -1)
rpm=$(ls -t target/release/bundle/rpm/*.rpm | head -1)
[ -s "$rpm" ] || fail "no .rpm was built"

size=$(stat -c %s "$deb")
log "the .deb is $size bytes (budget $MAX_DEB_BYTES)"
[ "$size" -le "$MAX_DEB_BYTES" ] || fail "the .deb is over 15 MiB"

control=$(dpkg-deb -f "$deb")
for want in libwebkit2gtk-4.1-0 libgtk-3-0 libayatana-appindicator3-1; do
  grep -q "^Depends:.*$want" <<<"$control" || fail "Depends does not name $want"
done
for field in Description Homepage Maintainer; do
  grep -q "^$field: ." <<<"$control" || fail "the package has no $field"
done

# A package left by an earlier run would hide a broken install.
dpkg-query -W "$PKG" >/dev/null 2>&1 && apt-get remove -y -qq "$PKG" >/dev/null

log "apt-get install $deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "./$deb" >/dev/null
files=$(dpkg -L "$PKG")

grep -qx /usr/bin/haid-models <<<"$files" || fail "the CLI is not /usr/bin/haid-models"
grep -q "MIT License" "/usr/share/doc/$PKG/copyright" || fail "no licence in /usr/share/doc/$PKG/copyright"
desktop=$(grep '^/usr/share/applications/.*\.desktop$' <<<"$files") || fail "no desktop entry"
grep -q '^Categories=Utility;' "$desktop" || fail "the desktop entry has no category"
for px in 32x32 64x64 128x128 512x512; do
  grep -q "/usr/share/icons/hicolor/$px/apps/" <<<"$files" || fail "no $px icon"
done

# Everything the installed programs write goes to a temp home.
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export HOME=$home XDG_CONFIG_HOME=$home/.config HF_HOME=$home/hf HF_ENDPOINT=http://127.0.0.1:9
unset HF_HUB_CACHE HUGGINGFACE_HUB_CACHE XDG_CACHE_HOME HAID_MODELS_MANIFEST

log "/usr/bin/haid-models --version, list"
/usr/bin/haid-models --version | grep -q '^haid-models ' || fail "--version"
list=$(/usr/bin/haid-models list --json)
python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["groups"], "no groups"' <<<"$list" \
  || fail "list --json gave no groups"

log "the serve unit: shipped, disabled, and the installed serve answers as a hub"
unit=/lib/systemd/system/haid-models-serve.service
grep -qx "$unit" <<<"$files" || fail "no $unit in the package"
grep -q '^ExecStart=/usr/bin/haid-models serve ' "$unit" || fail "the unit does not run haid-models serve"
[ ! -e /etc/systemd/system/multi-user.target.wants/haid-models-serve.service ] || fail "the serve unit is enabled by the install"
if command -v systemd-analyze >/dev/null; then systemd-analyze verify "$unit" 2>&1 | grep -v "^$" >&2 || true; fi
/usr/bin/haid-models serve --bind 127.0.0.1:0 >"$home/serve.out" 2>"$home/serve.log" &
serve=$!
for _ in $(seq 50); do [ -s "$home/serve.out" ] && break; sleep 0.1; done
url=$(head -1 "$home/serve.out")
code=$(python3 -c 'import sys, urllib.request, urllib.error
try: urllib.request.urlopen(sys.argv[1] + "/api/models/acme/none")
except urllib.error.HTTPError as e: print(e.code, e.headers.get("x-error-code"))' "$url")
kill $serve; wait $serve 2>/dev/null || true
[ "$code" = "404 RepoNotFound" ] || fail "the installed serve answered $code for a missing model"
grep -q "GET /api/models/acme/none 404" "$home/serve.log" || fail "serve did not log the request"

log "starting the installed app under Xvfb"
HAID_STARTUP_TIMING=1 xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c '
  /usr/bin/haid-models-desktop 2>"$0/app.log" &
  app=$!
  for _ in $(seq 60); do
    grep -q "model list shown" "$0/app.log" && break
    sleep 0.5
  done
  sleep 1
  xwininfo -root -tree >"$0/windows.txt"
  import -window root "$0/shot.png"
  # Close the window as a user would: the app stays (tray), its web view goes.
  target/venv/bin/python tests/close_window.py "HAID Models" || echo "close failed" >"$0/closed.txt"
  sleep 3
  kill -0 $app 2>/dev/null && echo "alive" >>"$0/closed.txt"
  xwininfo -root -tree >>"$0/closed.txt"
  pgrep -P $app -a >>"$0/closed.txt" || true
  # A second launch (single instance) opens the window again and exits.
  /usr/bin/haid-models-desktop 2>"$0/second.log" && echo "second exited" >"$0/reopened.txt"
  for _ in $(seq 60); do
    [ "$(grep -c "model list shown" "$0/app.log")" -ge 2 ] && break
    sleep 0.5
  done
  xwininfo -root -tree >>"$0/reopened.txt"
  kill $app; wait $app 2>/dev/null || true
' "$home"
grep -q "model list shown" "$home/app.log" || { cat "$home/app.log" >&2; fail "the app never showed its list"; }
grep -q '"HAID Models"' "$home/windows.txt" || fail "no window titled HAID Models"
log "closing the window keeps the app in the tray; a second launch opens it again"
grep -q "^alive" "$home/closed.txt" || fail "closing the window quit the app: $(cat "$home/closed.txt")"
! grep -q '"HAID Models"' "$home/closed.txt" || fail "the window is still there after closing it"
! grep -q "WebKitWebProcess" "$home/closed.txt" || fail "the closed window's web process still runs"
grep -q "second exited" "$home/reopened.txt" || fail "the second launch did not hand over and exit"
grep -q '"HAID Models"' "$home/reopened.txt" || fail "the second launch did not open the window again"
[ "$(grep -c "model list shown" "$home/app.log")" -ge 2 ] || fail "the reopened window never showed its list"
cp "$home/shot.png" "$OUT/installed-app.png"
# A window that drew something: the screenshot is not one flat colour.
spread=$(convert "$home/shot.png" -colorspace Gray -format '%[fx:standard_deviation]' info:)
python3 -c "import sys; sys.exit(float('$spread') < 0.02)" || fail "the screenshot is blank ($spread)"

log "apt-get remove"
apt-get remove -y -qq "$PKG" >/dev/null
status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$PKG" 2>/dev/null || true)
case "$status" in "" | "un "* | "n"*) ;; *) fail "dpkg still knows the package: $status" ;; esac
while read -r path; do
  [ -d "$path" ] && continue # shared folders (/usr/bin) stay
  [ ! -e "$path" ] || fail "$path is left after remove"
done <<<"$files"

log "bundle OK: $(basename "$deb") ($size bytes), installed, ran, removed"
