"""Drives `haid-models watch --json` on a big cache: another process (this one)
writes and deletes models; measures the time from the end of each write to the
watcher's event line, then the watcher's CPU use while the cache is idle.

Usage: watch_latency.py HAID_BIN CACHE_DIR [--models 20] [--idle 60]
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import threading
import time


def write_model(cache: str, name: str) -> None:
    """A complete model, as a download leaves it (blobs, snapshot links, ref)."""
    repo = os.path.join(cache, f"models--bench--{name}")
    commit = hashlib.sha1(name.encode()).hexdigest()
    os.makedirs(os.path.join(repo, "blobs"))
    os.makedirs(os.path.join(repo, "refs"))
    snap = os.path.join(repo, "snapshots", commit)
    os.makedirs(snap)
    for i in range(5):
        content = f"{name}-{i}".encode() * 500
        etag = hashlib.sha256(content).hexdigest()
        with open(os.path.join(repo, "blobs", etag), "wb") as f:
            f.write(content)
        os.symlink(f"../../blobs/{etag}", os.path.join(snap, f"file-{i}.bin"))
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(commit)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("cache")
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--idle", type=int, default=60)
    args = ap.parse_args()

    started = time.monotonic()
    proc = subprocess.Popen([args.bin, "watch", "--json", "--cache-dir", args.cache], stdout=subprocess.PIPE, text=True)
    events: list[tuple[float, dict]] = []
    cond = threading.Condition()

    def reader() -> None:
        for line in proc.stdout:
            with cond:
                events.append((time.monotonic(), json.loads(line)))
                cond.notify_all()

    threading.Thread(target=reader, daemon=True).start()

    def wait_for(pred, timeout=10.0):
        end = time.monotonic() + timeout
        with cond:
            while True:
                for t, e in events:
                    if pred(e):
                        return t
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no event")
                cond.wait(left)

    ready_at = wait_for(lambda e: e["event"] == "ready", 120)
    print(f"ready after {ready_at - started:.2f} s (initial scan and watches on the whole cache)")

    latencies = []
    for i in range(args.models):
        name = f"m{i}"
        write_model(args.cache, name)
        done = time.monotonic()
        t = wait_for(lambda e, n=name: e.get("repo_id") == f"bench/{n}" and e.get("state") == "complete")
        latencies.append(t - done)
        shutil.rmtree(os.path.join(args.cache, f"models--bench--{name}"))
        done = time.monotonic()
        t = wait_for(lambda e, n=name: e.get("repo_id") == f"bench/{n}" and e.get("state") == "removed")
        latencies.append(t - done)
        time.sleep(0.3)

    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    print(f"latency over {len(ms)} changes: p50 {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, max {ms[-1]:.0f} ms (goal p95 <= 300 ms)")

    time.sleep(1)
    before = cpu_seconds(proc.pid)
    time.sleep(args.idle)
    used = cpu_seconds(proc.pid) - before
    print(f"idle CPU over {args.idle} s: {used:.2f} s = {100 * used / args.idle:.2f} % of one core (goal < 1 %)")
    proc.terminate()
    proc.wait()


if __name__ == "__main__":
    main()
