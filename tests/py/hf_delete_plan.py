"""Prints huggingface_hub's plan for deleting revisions: expected_freed_size and paths.

Usage: hf_delete_plan.py CACHE_DIR HASH...
"""

import json
import sys

from huggingface_hub import scan_cache_dir


def main() -> None:
    strategy = scan_cache_dir(sys.argv[1]).delete_revisions(*sys.argv[2:])
    print(
        json.dumps(
            {
                "expected_freed_size": strategy.expected_freed_size,
                "blobs": sorted(str(p) for p in strategy.blobs),
                "refs": sorted(str(p) for p in strategy.refs),
                "snapshots": sorted(str(p) for p in strategy.snapshots),
                "repos": sorted(str(p) for p in strategy.repos),
            }
        )
    )


if __name__ == "__main__":
    main()
