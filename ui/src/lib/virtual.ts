// The arithmetic of the virtual list (no DOM here, so it is tested alone).
//
// Rows are all one height by construction: no cell of a row grows past the
// two lines of its name and id (they are cut with an ellipsis, the full text
// in their title; a team name takes two lines at most). So the list needs no
// per-row measurement: row i sits at i × height, which rows are near the
// viewport is a division, and jumping to a row that was never rendered is exact.
//
// Rows are recycled: the window holds a fixed number of slots, row i always
// goes to slot i mod length, and a slot keeps its DOM element while the window
// moves (only its content and offset change). Measured in WebKitGTK
// (bench/app.sh): adding and removing row elements while scrolling costs
// ~100 ms a frame, because every insertion repaints all the rendered rows;
// changing a row in place costs what a static page does.

/** The window: `length` rows from `start`. */
export interface Window {
  start: number;
  length: number;
}

/** A rendered row: its slot (the key of its DOM element) and the row it shows. */
export interface Slot {
  key: string;
  index: number;
}

const mod = (a: number, n: number) => ((a % n) + n) % n;

/**
 * The window over a list of `count` rows whose top edge is `top` px below the
 * viewport's top (negative once scrolled past), for a viewport `viewport` px
 * high with `overscan` px more on each side. Its length depends only on the
 * viewport, never on the scroll, so that scrolling moves rows between slots
 * and never adds or removes one; a list off screen keeps the rows of its
 * nearer end.
 */
export function windowAt(top: number, viewport: number, rowHeight: number, count: number, overscan: number): Window {
  if (count <= 0 || rowHeight <= 0) return { start: 0, length: 0 };
  const length = Math.min(count, Math.ceil((viewport + 2 * overscan) / rowHeight) + 1);
  const start = Math.min(count - length, Math.max(0, Math.floor((-top - overscan) / rowHeight)));
  return { start, length };
}

/**
 * The rows to put in the DOM, in DOM order: the slots from `base` on (the
 * order their elements already have, so that nothing moves while the window
 * does; when it rests, `base` becomes the slot of its first row and the DOM
 * order is the visual one again). The row that last had the focus (`pinned`)
 * stays in the DOM wherever it is: it keeps its own slot, and the row of the
 * window that slot would show goes to one spare slot at the end.
 */
export function slotRows(win: Window, base: number, pinned: number): Slot[] {
  const { start, length } = win;
  const rows: Slot[] = [];
  for (let j = 0; j < length; j++) {
    const k = (base + j) % length;
    rows.push({ key: `s${k}`, index: start + mod(k - start, length) });
  }
  if (length > 0 && pinned >= 0 && (pinned < start || pinned >= start + length)) {
    const at = mod((pinned % length) - base, length);
    rows.push({ key: "spare", index: rows[at].index });
    rows[at] = { key: rows[at].key, index: pinned };
  }
  return rows;
}

/**
 * The row a key moves the focus to, from row `from` of `count`, or null when
 * the key is not the grid's (then the page handles it as before: Space,
 * plain Home and End, the arrows past the first and last rows).
 * As in the WAI-ARIA grid pattern: arrows by one row, Page Up/Down by a
 * screenful, Ctrl+Home/End to the first and last rows.
 */
export function rowAfterKey(key: string, ctrl: boolean, from: number, count: number, pageRows: number): number | null {
  const last = count - 1;
  let to: number | null = null;
  if (key === "ArrowDown") to = Math.min(from + 1, last);
  else if (key === "ArrowUp") to = Math.max(from - 1, 0);
  else if (key === "PageDown") to = Math.min(from + Math.max(1, pageRows), last);
  else if (key === "PageUp") to = Math.max(from - Math.max(1, pageRows), 0);
  else if (key === "Home" && ctrl) to = 0;
  else if (key === "End" && ctrl) to = last;
  return to === null || to === from ? null : to;
}
