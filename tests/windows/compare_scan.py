"""Compares `haid-models scan --json` run by the Windows build (under Wine)
with huggingface_hub's `scan_cache_dir` of the same cache, on the numbers
DESIGN.md says must be equal: per repo its size, file count and revisions.

Usage: compare_scan.py OURS.json CACHE_DIR
Exits 1, saying what differs, when they do not match.
"""

import json
import sys

from huggingface_hub import scan_cache_dir


def theirs(cache_dir):
    out = {}
    for repo in scan_cache_dir(cache_dir).repos:
        out[repo.repo_id] = {
            "size_on_disk": repo.size_on_disk,
            "nb_files": repo.nb_files,
            "revisions": sorted((r.commit_hash, r.nb_files, r.size_on_disk) for r in repo.revisions),
        }
    return out


def ours(report):
    out = {}
    for repo in report["repos"]:
        out[repo["repo_id"]] = {
            "size_on_disk": repo["size_on_disk"],
            "nb_files": repo["nb_files"],
            "revisions": sorted((r["commit_hash"], r["nb_files"], r["size_on_disk"]) for r in repo["revisions"]),
        }
    return out


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        report = json.load(f)
    a, b = ours(report), theirs(sys.argv[2])
    if not b:
        sys.exit("huggingface_hub sees no repo: the test cache is empty")
    if a != b:
        sys.exit(f"scan differs:\n  haid-models (Windows): {a}\n  scan_cache_dir:        {b}")
    print(f"scan matches scan_cache_dir: {len(b)} repo(s), {sum(r['size_on_disk'] for r in b.values())} bytes")


if __name__ == "__main__":
    main()
