"""Is a list of 2,000 models smooth? Drives the running app through WebDriver
(tauri-driver on 127.0.0.1:4444): scrolls the whole list one frame at a time
twice (right after the start, then again) and types in the filter, and
prints the frame times as JSON.

The list is virtual (issue 15): only the rows near the viewport are in the
DOM, so the rows are counted from the grids' `aria-rowcount`, and the rows in
the DOM are reported beside them.

Usage: ui_smooth.py APP_BINARY   (tauri-driver must already listen on 4444)
"""

import json
import sys
import time
import urllib.error
import urllib.request

DRIVER = "http://127.0.0.1:4444"


def call(method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(DRIVER + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            return json.load(resp)["value"]
    except urllib.error.HTTPError as e:
        sys.exit(f"WebDriver {method} {path}: {e.code} {e.read().decode(errors='replace')[:500]}")


# The rows of the list (all of them, rendered or not) and the rows in the DOM.
ROWS = """
const grids = [...document.querySelectorAll('[role="grid"]')];
return { rows: grids.reduce((n, g) => n + Number(g.getAttribute("aria-rowcount")), 0),
         dom_rows: document.querySelectorAll('[data-testid="model-row"]').length };
"""

# Scrolls to the bottom by 120 px per frame (a fast wheel), timing every frame
# (and counting the most rows the DOM held on the way).
SCROLL = """
const done = arguments[arguments.length - 1];
const deltas = [];
let last = performance.now();
let most = 0;
window.scrollTo(0, 0);
function step(now) {
  deltas.push(now - last);
  last = now;
  most = Math.max(most, document.querySelectorAll('[data-testid="model-row"]').length);
  if (window.scrollY + window.innerHeight >= document.body.scrollHeight - 2) return done({ deltas, most });
  window.scrollBy(0, 120);
  requestAnimationFrame(step);
}
requestAnimationFrame((now) => { last = now; requestAnimationFrame(step); });
"""

# Types a query in the filter; time until the narrowed list is painted.
FILTER = """
const [query, done] = [arguments[0], arguments[arguments.length - 1]];
const input = document.querySelector('input[type="search"]');
const start = performance.now();
input.value = query;
input.dispatchEvent(new Event("input", { bubbles: true }));
requestAnimationFrame(() => requestAnimationFrame(() => done({
  ms: performance.now() - start,
  rows: [...document.querySelectorAll('[role="grid"]')].reduce((n, g) => n + Number(g.getAttribute("aria-rowcount")), 0),
  dom_rows: document.querySelectorAll('[data-testid="model-row"]').length })));
"""


BASELINE = """
const rows = arguments[0];
document.body.innerHTML = Array.from({ length: rows }, (_, i) => `<div style="height:52px;border-bottom:1px solid #ddd">row ${i}</div>`).join("");
"""


def stats(run: dict) -> dict:
    d = sorted(run["deltas"][1:])  # the first frame includes the scroll to the top
    pick = lambda q: round(d[min(len(d) - 1, int(q * len(d)))], 1)
    return {"frames": len(d), "p50_ms": pick(0.5), "p95_ms": pick(0.95), "max_ms": round(d[-1], 1), "over_50ms": sum(x > 50 for x in d), "most_dom_rows": run["most"]}


def main() -> None:
    session = call("POST", "/session", {"capabilities": {"alwaysMatch": {"tauri:options": {"application": sys.argv[1]}}}})
    sid = session["sessionId"]
    try:
        call("POST", f"/session/{sid}/timeouts", {"script": 180_000})
        deadline = time.time() + 60
        while time.time() < deadline:
            counted = call("POST", f"/session/{sid}/execute/sync", {"script": ROWS, "args": []})
            rows = counted["rows"]
            if rows >= 2000:
                break
            time.sleep(0.2)
        # The first scroll starts as soon as the list is there, so it meets
        # the app's own start-up work (the heap trim 3 s after the list is
        # shown, the webview's late start-up): the second, at rest, is the
        # scroll of a user who has the app open.
        scroll = stats(call("POST", f"/session/{sid}/execute/async", {"script": SCROLL, "args": []}))
        again = stats(call("POST", f"/session/{sid}/execute/async", {"script": SCROLL, "args": []}))
        narrow = call("POST", f"/session/{sid}/execute/async", {"script": FILTER, "args": ["model-123"]})
        widen = call("POST", f"/session/{sid}/execute/async", {"script": FILTER, "args": [""]})
        # The same scroll over a page with nothing but plain text rows: what
        # the webview itself costs here (software rendering under Xvfb).
        call("POST", f"/session/{sid}/execute/sync", {"script": BASELINE, "args": [rows]})
        baseline = stats(call("POST", f"/session/{sid}/execute/async", {"script": SCROLL, "args": []}))
        print(json.dumps({"rows": rows, "dom_rows": counted["dom_rows"], "scroll": scroll, "scroll_again": again, "baseline": baseline, "filter_narrow": narrow, "filter_clear": widen}))
    finally:
        call("DELETE", f"/session/{sid}")


if __name__ == "__main__":
    main()
