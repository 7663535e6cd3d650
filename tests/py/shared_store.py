"""huggingface_hub 2.5's shared blob store, driven by its own code
(`huggingface_hub.utils._shared_blobs`), so the fixtures with a store and the
answers our tests compare against are the reference's, never an imitation.

Usage (prints JSON):
  shared_store.py publish CACHE FOLDER ETAG     publish <CACHE>/<FOLDER>/blobs/<ETAG>, a finished
                                                download, as 2.5 does after a Xet download; its Xet
                                                hash computed by hf_xet.hash_files
  shared_store.py link CACHE FOLDER ETAG HASH SIZE   try_link_from_shared_store for that blob
  shared_store.py has CACHE HASH SIZE           has_shared_blob
  shared_store.py hash FILE...                  hf_xet.hash_files: {path: hash}
  shared_store.py scan CACHE                    scan_cache_dir 2.5: physical total, per-repo sizes,
                                                unreferenced payloads
  shared_store.py plan CACHE HASH...            2.5's delete_revisions: expected_freed_size
  shared_store.py prune-plan CACHE              what `hf cache prune` would free, computed as it does
"""

import json
import os
import sys
from pathlib import Path

import hf_xet
from huggingface_hub import scan_cache_dir
from huggingface_hub.utils import _shared_blobs


def xet_hash(path: str) -> str:
    return hf_xet.hash_files([path])[0].hash


def publish(cache: str, folder: str, etag: str) -> dict:
    blob = os.path.join(cache, folder, "blobs", etag)
    digest = xet_hash(blob)
    size = os.path.getsize(blob)
    ok = _shared_blobs.publish_blob_to_shared_store(
        blob_path=blob, xet_hash=digest, cache_dir=cache, expected_size=size
    )
    return {"hash": digest, "size": size, "published": ok}


def link(cache: str, folder: str, etag: str, digest: str, size: str) -> dict:
    blob = os.path.join(cache, folder, "blobs", etag)
    ok = _shared_blobs.try_link_from_shared_store(
        blob_path=blob, xet_hash=digest, cache_dir=cache, expected_size=int(size)
    )
    return {"linked": ok}


def has(cache: str, digest: str, size: str) -> dict:
    return {"has": _shared_blobs.has_shared_blob(xet_hash=digest, cache_dir=cache, expected_size=int(size))}


def scan(cache: str) -> dict:
    info = scan_cache_dir(cache)
    unreferenced = _shared_blobs.unreferenced_shared_blobs(info.cache_dir)
    return {
        "size_on_disk": info.size_on_disk,
        "repos": {f"{r.repo_type}/{r.repo_id}": r.size_on_disk for r in info.repos},
        "unreferenced": {str(p): s for p, s in unreferenced.items()},
        "warnings": [str(w) for w in info.warnings],
    }


def plan(cache: str, *hashes: str) -> dict:
    return {"expected_freed_size": scan_cache_dir(cache).delete_revisions(*hashes).expected_freed_size}


def prune_plan(cache: str) -> dict:
    # The sum `hf cache prune` prints (huggingface_hub/cli/cache.py, prune).
    info = scan_cache_dir(cache)
    detached = [rev.commit_hash for repo in info.repos for rev in repo.revisions if not rev.refs]
    unreferenced = _shared_blobs.unreferenced_shared_blobs(info.cache_dir)
    strategy = info.delete_revisions(*detached)
    return {
        "freed": strategy.expected_freed_size + info.incomplete_size_on_disk + sum(unreferenced.values()),
        "unreferenced": len(unreferenced),
    }


def main() -> None:
    command, args = sys.argv[1], sys.argv[2:]
    if command == "hash":
        out = {path: xet_hash(path) for path in args}
    else:
        out = {"publish": publish, "link": link, "has": has, "scan": scan, "plan": plan, "prune-plan": prune_plan}[
            command
        ](*args)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
