"""Writes a cache with one model for the benchmarks: `models--bench--big`,
one BIG_MB file of incompressible bytes and 20 small ones, in the standard
layout (blobs named by sha256, relative snapshot links, refs/main).

Usage: make_cache.py CACHE_DIR BIG_MB
"""

import hashlib
import os
import sys


def main() -> None:
    cache, mb = sys.argv[1], int(sys.argv[2])
    repo = os.path.join(cache, "models--bench--big")
    commit = "b" * 40
    for d in ("blobs", "refs", f"snapshots/{commit}/configs"):
        os.makedirs(os.path.join(repo, d), exist_ok=True)

    def put(rel: str, data: bytes) -> None:
        etag = hashlib.sha256(data).hexdigest()
        with open(os.path.join(repo, "blobs", etag), "wb") as f:
            f.write(data)
        link = "../" * (rel.count("/") + 2) + "blobs/" + etag
        os.symlink(link, os.path.join(repo, "snapshots", commit, rel))

    seed = os.urandom(1 << 20)
    h = hashlib.sha256()
    big = os.path.join(repo, "blobs", "big.tmp")
    with open(big, "wb") as f:
        for i in range(mb):
            block = hashlib.sha256(seed + i.to_bytes(4, "little")).digest() * (1 << 15)
            f.write(block)
            h.update(block)
    os.rename(big, os.path.join(repo, "blobs", h.hexdigest()))
    link = os.path.join(repo, "snapshots", commit, "model.safetensors")
    os.symlink("../../blobs/" + h.hexdigest(), link)
    for i in range(20):
        put(f"configs/file-{i}.json", os.urandom(2000 + i * 37))
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(commit)


if __name__ == "__main__":
    main()
