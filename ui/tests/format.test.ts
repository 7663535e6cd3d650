import { describe, expect, it } from "vitest";
import { count, size } from "../src/lib/format";

describe("format", () => {
  it("says a count with its noun, singular only for one", () => {
    expect([0, 1, 2].map((n) => count(n, "file"))).toEqual(["0 files", "1 file", "2 files"]);
  });

  it("says sizes in decimal units, as the hub does", () => {
    expect([33, 1500, 91_000_000].map(size)).toEqual(["33 B", "1.50 kB", "91.0 MB"]);
  });
});
