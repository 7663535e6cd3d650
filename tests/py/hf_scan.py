"""Scans a cache with the reference, huggingface_hub.scan_cache_dir, and prints
the fields `haid-models scan --json` must agree on, as JSON.

Usage: hf_scan.py CACHE_DIR [--quiet]   (--quiet: time the scan only, print a count)
"""

import json
import sys

from huggingface_hub import scan_cache_dir


def main() -> None:
    info = scan_cache_dir(sys.argv[1])
    if "--quiet" in sys.argv:
        print(json.dumps({"repos": len(info.repos)}))
        return
    repos = []
    for repo in info.repos:
        repos.append(
            {
                "repo_id": repo.repo_id,
                "repo_type": repo.repo_type,
                "size_on_disk": repo.size_on_disk,
                "nb_files": repo.nb_files,
                "last_accessed": int(repo.last_accessed),
                "last_modified": int(repo.last_modified),
                "revisions": sorted(
                    (
                        {
                            "commit_hash": rev.commit_hash,
                            "refs": sorted(rev.refs),
                            "size_on_disk": rev.size_on_disk,
                            "nb_files": rev.nb_files,
                            "last_modified": int(rev.last_modified),
                        }
                        for rev in repo.revisions
                    ),
                    key=lambda r: r["commit_hash"],
                ),
            }
        )
    repos.sort(key=lambda r: (r["repo_type"], r["repo_id"]))
    print(
        json.dumps(
            {
                "repos": repos,
                "incomplete_size_on_disk": info.incomplete_size_on_disk,
                "warnings": [str(w) for w in info.warnings],
            }
        )
    )


if __name__ == "__main__":
    main()
