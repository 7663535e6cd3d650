"""Generates a synthetic HF cache for benchmarks: REPOS repos x FILES files x REVS revisions.

Each revision shares half its files with the previous one (as real model updates do),
blobs are small (sizes 100..4000 bytes) so the benchmark measures metadata work, not I/O.

Usage: gen_cache.py DIR [--repos 2000] [--files 20] [--revisions 2]
"""

import argparse
import hashlib
import os


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--repos", type=int, default=2000)
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--revisions", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    with open(os.path.join(args.dir, "CACHEDIR.TAG"), "w") as f:
        f.write("Signature: 8a477f597d28d172789f06886806bc55\n")
    for r in range(args.repos):
        make_repo(os.path.join(args.dir, f"models--org{r % 50}--model-{r}"), r, args.files, args.revisions)


def make_repo(path: str, r: int, files: int, revisions: int) -> None:
    blobs = os.path.join(path, "blobs")
    os.makedirs(blobs, exist_ok=True)
    os.makedirs(os.path.join(path, "refs"), exist_ok=True)
    commit = ""
    for rev in range(revisions):
        commit = hashlib.sha1(f"{r}-{rev}".encode()).hexdigest()
        snap = os.path.join(path, "snapshots", commit)
        os.makedirs(os.path.join(snap, "sub"), exist_ok=True)
        for i in range(files):
            # The first half of the files change with each revision; the rest are shared.
            version = rev if i < files // 2 else 0
            content = f"{r}-{i}-{version}".encode() * (10 + (i * 37) % 400)
            etag = hashlib.sha256(content).hexdigest()
            blob = os.path.join(blobs, etag)
            if not os.path.exists(blob):
                with open(blob, "wb") as f:
                    f.write(content)
            name = f"sub/file-{i}.bin" if i % 5 == 0 else f"file-{i}.bin"
            depth = name.count("/") + 2
            os.symlink("../" * depth + "blobs/" + etag, os.path.join(snap, name))
    with open(os.path.join(path, "refs", "main"), "w") as f:
        f.write(commit)


if __name__ == "__main__":
    main()
