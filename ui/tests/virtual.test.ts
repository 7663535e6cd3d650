import { describe, expect, it } from "vitest";
import { rowAfterKey, slotRows, windowAt } from "../src/lib/virtual";

const indices = (slots: { index: number }[]) => slots.map((s) => s.index);

describe("the virtual list's window", () => {
  it("holds the rows within the overscan of the viewport, always as many", () => {
    // Rows of 50 px, an 800 px viewport, 100 px overscan: 21 rows.
    expect(windowAt(100, 800, 50, 2000, 100)).toEqual({ start: 0, length: 21 });
    // Scrolled 10,000 px past the list's top: rows 200 onwards are on screen.
    expect(windowAt(-10_000, 800, 50, 2000, 100)).toEqual({ start: 198, length: 21 });
    // At the end: the last 21 rows.
    expect(windowAt(-99_500, 800, 50, 2000, 100)).toEqual({ start: 1979, length: 21 });
    // A short list: all of it.
    expect(windowAt(0, 800, 50, 7, 100)).toEqual({ start: 0, length: 7 });
  });

  it("keeps the rows of the nearer end of a list off screen", () => {
    expect(windowAt(5000, 800, 50, 2000, 100)).toEqual({ start: 0, length: 21 });
    expect(windowAt(-200_000, 800, 50, 2000, 100)).toEqual({ start: 1979, length: 21 });
    expect(windowAt(0, 800, 50, 0, 100)).toEqual({ start: 0, length: 0 });
  });

  it("moves rows between slots as the window moves, and never moves a slot", () => {
    const at0 = slotRows({ start: 0, length: 4 }, 0, -1);
    expect(at0).toEqual([
      { key: "s0", index: 0 },
      { key: "s1", index: 1 },
      { key: "s2", index: 2 },
      { key: "s3", index: 3 },
    ]);
    // Two rows down: slots 0 and 1 show rows 4 and 5, in the same DOM order.
    const at2 = slotRows({ start: 2, length: 4 }, 0, -1);
    expect(at2.map((s) => s.key)).toEqual(["s0", "s1", "s2", "s3"]);
    expect(indices(at2)).toEqual([4, 5, 2, 3]);
    // At rest, base = the first row's slot: the DOM order is the visual one.
    expect(indices(slotRows({ start: 2, length: 4 }, 2, -1))).toEqual([2, 3, 4, 5]);
  });

  it("keeps the focused row in its slot wherever it is, and the row it displaces in a spare", () => {
    const rows = slotRows({ start: 10, length: 4 }, 2, 1999);
    // 1999 mod 4 = 3: slot 3 keeps row 1999; row 11 (also slot 3) goes to the spare.
    expect(rows).toEqual([
      { key: "s2", index: 10 },
      { key: "s3", index: 1999 },
      { key: "s0", index: 12 },
      { key: "s1", index: 13 },
      { key: "spare", index: 11 },
    ]);
    // In the window, the focused row needs nothing more.
    expect(slotRows({ start: 10, length: 4 }, 2, 11)).toHaveLength(4);
  });

  it("moves by row, by page, and to the ends with the grid's keys", () => {
    expect(rowAfterKey("ArrowDown", false, 5, 2000, 12)).toBe(6);
    expect(rowAfterKey("ArrowUp", false, 5, 2000, 12)).toBe(4);
    expect(rowAfterKey("PageDown", false, 5, 2000, 12)).toBe(17);
    expect(rowAfterKey("PageUp", false, 5, 2000, 12)).toBe(0);
    expect(rowAfterKey("End", true, 5, 2000, 12)).toBe(1999);
    expect(rowAfterKey("Home", true, 5, 2000, 12)).toBe(0);
    // Keys the page keeps: plain Home and End, Tab, and the arrows past either end.
    expect(rowAfterKey("End", false, 5, 2000, 12)).toBeNull();
    expect(rowAfterKey("Tab", false, 5, 2000, 12)).toBeNull();
    expect(rowAfterKey("ArrowUp", false, 0, 2000, 12)).toBeNull();
    expect(rowAfterKey("ArrowDown", false, 1999, 2000, 12)).toBeNull();
  });
});
