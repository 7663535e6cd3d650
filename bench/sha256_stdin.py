"""Prints the sha256 of standard input (hashlib: OpenSSL, SHA extensions
where the CPU has them); for bench/download.sh's `curl | tee | sha256`."""
import hashlib
import sys

h = hashlib.sha256()
for chunk in iter(lambda: sys.stdin.buffer.read(1 << 20), b""):
    h.update(chunk)
print(h.hexdigest())
