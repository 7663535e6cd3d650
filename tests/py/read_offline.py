"""Reads files of a cached repo with huggingface_hub, offline, and prints their sha256.

Usage: read_offline.py CACHE_DIR REPO_ID FILE...   (run with HF_HUB_OFFLINE=1)
"""

import hashlib
import json
import sys

from huggingface_hub import hf_hub_download, snapshot_download


def main() -> None:
    cache, repo, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    out = {"snapshot": snapshot_download(repo, cache_dir=cache), "files": {}}
    for name in files:
        with open(hf_hub_download(repo, name, cache_dir=cache), "rb") as f:
            out["files"][name] = hashlib.sha256(f.read()).hexdigest()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
