#!/usr/bin/env bash
# cargo's runner for x86_64-pc-windows-gnu (CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER):
# puts the ProcessPrng shim (bcryptprimitives.c: why) next to the .exe, then
# runs it under Wine. HAID_SHIM_DLL names the built shim.
set -euo pipefail
exe=$1
dir=$(dirname "$exe")
[ -f "$dir/bcryptprimitives.dll" ] || cp "$HAID_SHIM_DLL" "$dir/"
exec wine "$@"
