// The disk picture's parts: the manifest's models first, then the others,
// the small ones summed past a dozen, then unfinished downloads.
import { describe, expect, it } from "vitest";
import type { SpaceReport } from "../src/lib/generated";
import { parts } from "../src/lib/space.svelte";

const repo = (id: string, size: number, inManifest: boolean) => ({ id, type: inManifest ? "embedding" : "other", in_manifest: inManifest, size_on_disk: size });

describe("the disk picture", () => {
  it("puts the manifest's models first, biggest first, then the others, then unfinished", () => {
    const report: SpaceReport = {
      cache_dir: "/c",
      cache_bytes: 0,
      free_bytes: 1000,
      incomplete_bytes: 7,
      prunable_bytes: 0,
      repos: [repo("o/small", 5, false), repo("m/a", 10, true), repo("m/b", 30, true), repo("o/big", 50, false)],
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
    const report: SpaceReport = { cache_dir: "/c", cache_bytes: 0, free_bytes: null, incomplete_bytes: 0, prunable_bytes: 0, repos: many, hf_home: "/h", home: [] };
    const out = parts(report);
    expect(out).toHaveLength(13);
    expect(out[12]).toMatchObject({ key: "rest-other", label: "8 more", filter: null });
    expect(out[12].bytes).toBe(many.slice(12).reduce((n, r) => n + r.size_on_disk, 0));
  });
});
