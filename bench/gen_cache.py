"""Generates a synthetic HF cache for benchmarks: REPOS repos x FILES files x REVS revisions.

Each revision shares half its files with the previous one (as real model updates do),
blobs are small (sizes 100..4000 bytes) so the benchmark measures metadata work, not I/O.

With --shared, the cache is as huggingface_hub 2.5 writes it: half of the big blobs
(>= 2000 bytes) are published to its shared store by its own code
(`publish_blob_to_shared_store`, with the Xet hash from hf_xet.hash_files), and those
files are the same in each pair of repos, so every payload is shared by two.

Usage: gen_cache.py DIR [--repos 2000] [--files 20] [--revisions 2] [--shared]
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
    ap.add_argument("--shared", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    with open(os.path.join(args.dir, "CACHEDIR.TAG"), "w") as f:
        f.write("Signature: 8a477f597d28d172789f06886806bc55\n")
    to_publish = []
    for r in range(args.repos):
        path = os.path.join(args.dir, f"models--org{r % 50}--model-{r}")
        to_publish += make_repo(path, r, args.files, args.revisions, args.shared)
    if to_publish:
        publish(args.dir, to_publish)


def publish(cache: str, blobs: list) -> None:
    import hf_xet
    from huggingface_hub.utils import _shared_blobs

    hashes = hf_xet.hash_files(blobs)
    for blob, info in zip(blobs, hashes):
        ok = _shared_blobs.publish_blob_to_shared_store(
            blob_path=blob, xet_hash=info.hash, cache_dir=cache, expected_size=info.file_size
        )
        assert ok, blob


def make_repo(path: str, r: int, files: int, revisions: int, shared: bool) -> list:
    """Writes the repo; returns the blobs to publish to the shared store."""
    to_publish = []
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
            repeat = 10 + (i * 37) % 400
            # Big files at an even index go to the store, the same in each pair of repos.
            in_store = shared and repeat * len(f"{r}-{i}-{version}") >= 2000 and i % 2 == 0
            owner = f"pair{r // 2}" if in_store else str(r)
            content = f"{owner}-{i}-{version}".encode() * repeat
            etag = hashlib.sha256(content).hexdigest()
            blob = os.path.join(blobs, etag)
            if not os.path.exists(blob):
                with open(blob, "wb") as f:
                    f.write(content)
                if in_store:
                    to_publish.append(blob)
            name = f"sub/file-{i}.bin" if i % 5 == 0 else f"file-{i}.bin"
            depth = name.count("/") + 2
            os.symlink("../" * depth + "blobs/" + etag, os.path.join(snap, name))
    with open(os.path.join(path, "refs", "main"), "w") as f:
        f.write(commit)
    return to_publish


if __name__ == "__main__":
    main()
