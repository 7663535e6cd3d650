// A window over a long list of equal rows, for one grid of the page (one
// group). The page itself scrolls (the header stays on top), so the grid
// looks at where it is in the viewport on every scroll and resize, and at
// every change of the page's height above it (a banner, the settings).
//
// Why ours and not a library: @tanstack/svelte-virtual still hands out a
// Svelte 4 store and needs workarounds in runes mode (TanStack/virtual#866,
// open), and like virtua's Svelte components it adds and removes row
// elements as the window moves, which is what WebKitGTK pays ~100 ms a frame
// for (virtual.ts). Our rows are all one height and are recycled in place,
// and the page holds several lists (one per type) under one window scroll:
// the whole window is a division and a modulo, in this file and virtual.ts.
import { tick, untrack } from "svelte";
import { type Slot, slotRows, type Window, windowAt } from "./virtual";

/** Rows rendered above and below the viewport: a fast wheel moves 120 px a frame. */
const OVERSCAN_PX = 480;
/** The height of a row until one is measured (and in a test DOM, which has no layout). */
const ESTIMATED_ROW_PX = 52;
/** How long the window must rest before the DOM order is made the visual order again. */
const SETTLE_MS = 150;

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export class RowWindow {
  rowHeight = $state(ESTIMATED_ROW_PX);
  window = $state.raw<Window>({ start: 0, length: 0 });
  /** The slot whose element comes first in the DOM (see slotRows). */
  base = $state(0);
  /** The key of the row that last had the focus. */
  pinned = $state<string | null>(null);
  readonly rows: Slot[] = $derived.by(() => {
    const keys = this.keys();
    const pinned = this.pinned === null ? -1 : keys.indexOf(this.pinned);
    // The window may be older than a filter that just shortened the list.
    const length = Math.min(this.window.length, keys.length);
    const win = { start: Math.min(this.window.start, keys.length - length), length };
    return slotRows(win, length > 0 ? this.base % length : 0, pinned);
  });
  private grid: HTMLElement | null = null;
  private settle: ReturnType<typeof setTimeout> | undefined;

  /** `keys` gives the key of every row, in order (a model's id). */
  constructor(private readonly keys: () => readonly string[]) {}

  /** Recomputes which rows are near the viewport. Cheap: two layout reads, no write. */
  update = () => {
    const grid = this.grid;
    if (!grid) return;
    const measured = grid.querySelector<HTMLElement>('[role="row"]')?.offsetHeight ?? 0;
    if (measured > 0 && measured !== this.rowHeight) this.rowHeight = measured;
    const next = windowAt(grid.getBoundingClientRect().top, window.innerHeight, this.rowHeight, this.keys().length, OVERSCAN_PX);
    const { start, length } = this.window;
    if (next.start === start && next.length === length) return;
    if (next.length !== length) this.base = next.length > 0 ? this.base % next.length : 0;
    this.window = next;
    // Once the scroll rests, one reorder puts the DOM back in the visual
    // order (for screen readers, and for Tab into the grid from outside).
    clearTimeout(this.settle);
    this.settle = setTimeout(this.reorder, SETTLE_MS);
  };

  // Moving an element in the DOM takes the focus from it (WebKit, like the
  // others), so the focused control gets it back after the move.
  private reorder = async () => {
    if (this.window.length === 0) return;
    const focused = document.activeElement instanceof HTMLElement && this.grid?.contains(document.activeElement) ? document.activeElement : null;
    this.base = this.window.start % this.window.length;
    await tick();
    if (focused?.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
  };

  /** An attachment for the grid element: follows the scroll, the window and the page's height. */
  attach = (grid: HTMLElement) => {
    this.grid = grid;
    const options = { passive: true };
    window.addEventListener("scroll", this.update, options);
    window.addEventListener("resize", this.update, options);
    // Anything that grows or shrinks above the grid moves it without a scroll.
    const resized = typeof ResizeObserver === "function" ? new ResizeObserver(() => this.update()) : null;
    resized?.observe(document.body);
    // Not a dependency of the attachment: it must not re-attach on every move.
    untrack(this.update);
    return () => {
      window.removeEventListener("scroll", this.update);
      window.removeEventListener("resize", this.update);
      resized?.disconnect();
      clearTimeout(this.settle);
      this.grid = null;
    };
  };

  /** How many rows a Page Up or Page Down moves. */
  pageRows(headerHeight: number) {
    return Math.max(1, Math.floor((window.innerHeight - headerHeight) / this.rowHeight) - 1);
  }

  /** The rendered element of row `index`, if it is rendered. */
  rowElement(index: number) {
    return this.grid?.querySelector<HTMLElement>(`[role="row"][aria-rowindex="${index + 1}"]`) ?? null;
  }

  /**
   * Moves the focus to row `index`, rendering it first if it was not: to its
   * control `action` when it has one, else to its first or last control
   * (`edge`), else to the row itself. Then scrolls it into view below the
   * sticky header.
   */
  async focus(index: number, target: { action?: string | null; edge?: "first" | "last" }, headerHeight: number) {
    const key = this.keys()[index];
    if (key === undefined || !this.grid) return;
    this.pinned = key;
    await tick();
    const row = this.rowElement(index);
    if (!row) return;
    const controls = [...row.querySelectorAll<HTMLElement>("[data-action]")];
    const el =
      (target.action && controls.find((c) => c.dataset.action === target.action)) ||
      (target.edge === "first" ? controls[0] : target.edge === "last" ? controls.at(-1) : undefined) ||
      row;
    el.focus({ preventScroll: true });
    reveal(row, headerHeight);
  }

  /** Moves the focus to the first control after the grid (or the last before it). */
  focusBeside(forward: boolean) {
    const grid = this.grid;
    if (!grid) return;
    const outside = [...document.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => !grid.contains(el));
    const after = (el: HTMLElement) => (grid.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0;
    const next = forward ? (outside.find(after) ?? outside[0]) : (outside.filter((el) => !after(el)).at(-1) ?? outside.at(-1));
    next?.focus();
  }
}

/** Scrolls the page just enough for `row` to be seen whole, below a header `headerHeight` px high. */
export function reveal(row: HTMLElement, headerHeight: number) {
  const r = row.getBoundingClientRect();
  if (r.top < headerHeight) window.scrollBy(0, r.top - headerHeight);
  else if (r.bottom > window.innerHeight) window.scrollBy(0, r.bottom - window.innerHeight);
}
