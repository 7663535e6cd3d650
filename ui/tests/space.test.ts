// The disk picture's parts: the manifest's models first, then the others,
// the small ones summed past a dozen, then unfinished downloads.
import { describe, expect, it } from "vitest";
import type { SpaceReport } from "../src/lib/generated";
import { parts } from "../src/lib/space.svelte";

const repo = (id: string, size: number, inManifest: boolean, shared = 0) => ({ id, type: inManifest ? "embedding" : "other", in_manifest: inManifest, size_on_disk: size, shared_bytes: shared });

describe("the disk picture", () => {
  it("puts the manifest's models first, biggest first, then the others, then unfinished", () => {
    const report: SpaceReport = {
      cache_dir: "/c",
      cache_bytes: 0,
      free_bytes: 1000,
      incomplete_bytes: 7,
      prunable_bytes: 0,
      repos: [repo("o/small", 5, false), repo("m/a", 10, true), repo("m/b", 30, true), repo("o/big", 50, false)],
      shared: [],
      hf_home: "/h",
      home: [],
    };
    expect(parts(report).map((p) => [p.key, p.kind, p.bytes])).toEqual([
      ["m/b", "embedding", 30],
      ["m/a", "embedding", 10],
      ["o/big", "other", 50],
      ["o/small", "other", 5],
      ["unfinished", "unfinished", 7],
    ]);
  });

  it("sums the small ones past a dozen", () => {
    const many = Array.from({ length: 20 }, (_, i) => repo(`o/m${i}`, 100 - i, false));
    const report: SpaceReport = { cache_dir: "/c", cache_bytes: 0, free_bytes: null, incomplete_bytes: 0, prunable_bytes: 0, repos: many, shared: [], hf_home: "/h", home: [] };
    const out = parts(report);
    expect(out).toHaveLength(13);
    expect(out[12]).toMatchObject({ key: "rest-other", label: "8 more", filter: null });
    expect(out[12].bytes).toBe(many.slice(12).reduce((n, r) => n + r.size_on_disk, 0));
  });

  it("shows a file two models share once, named by both, so the bar adds up to the disk", () => {
    const report: SpaceReport = {
      cache_dir: "/c",
      cache_bytes: 0,
      free_bytes: null,
      incomplete_bytes: 0,
      prunable_bytes: 40,
      // Each repo's size counts the shared 90 in full, as scan does.
      repos: [repo("m/a", 92, true, 90), repo("m/b", 93, true, 90), repo("o/c", 45, false, 40)],
      shared: [
        { hash: "ab".repeat(32), bytes: 90, repos: ["m/a", "m/b"] },
        { hash: "cd".repeat(32), bytes: 40, repos: ["o/c"] },
        { hash: "ef".repeat(32), bytes: 40, repos: [] },
      ],
      hf_home: "/h",
      home: [],
    };
    const out = parts(report);
    expect(out.map((p) => [p.key, p.kind, p.bytes])).toEqual([
      ["m/b", "embedding", 3],
      ["m/a", "embedding", 2],
      ["o/c", "other", 5],
      ["shared-" + "ab".repeat(32), "shared", 90],
      ["shared-" + "cd".repeat(32), "shared", 40],
      ["shared-" + "ef".repeat(32), "shared", 40],
    ]);
    expect(out.reduce((n, p) => n + p.bytes, 0)).toBe(180);
    expect(out[3]).toMatchObject({ label: "shared by m/a, m/b", filter: null });
    expect(out[4]).toMatchObject({ filter: "o/c" });
    expect(out[5].label).toContain("prune frees it");
  });
});
