// The virtual list in the page: 2,000 models, few rows in the DOM, and the
// keyboard reaching rows that were not rendered.
import { emit } from "@tauri-apps/api/event";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import App from "../src/App.svelte";
import type { ModelList, ModelStatus } from "../src/lib/generated";

function model(i: number): ModelStatus {
  return {
    id: `org${i % 50}/model-${i}`,
    name: `model-${i}`,
    team: `org${i % 50}`,
    dimensions: null,
    size_mb: null,
    link: null,
    state: "downloaded",
    size_on_disk: 1000,
    path: `/cache/models--org${i % 50}--model-${i}`,
    last_accessed: null,
    last_modified: null,
    refs: ["main"],
    revision: "main",
    commit: "c".repeat(40),
    to_get_bytes: 0,
  };
}

const many: ModelList = {
  cache_dir: "/cache",
  size_on_disk: 2_000_000,
  groups: [
    { type: "embedding", models: [] },
    { type: "other", models: Array.from({ length: 2000 }, (_, i) => model(i)) },
  ],
  warnings: [],
  summary: { ready: 0, wanted: 0, size_on_disk: 2_000_000, to_get_bytes: 0 },
};

let list: ModelList;

beforeEach(() => {
  list = many;
  mockIPC(
    (cmd) => {
      if (cmd === "list_models") return list;
      if (cmd === "cache_info") return { cache_dir: "/cache", source: "HF_HOME", free_bytes: null };
      if (cmd === "migration_plan") return { from: "/data", cache_dir: "/cache", models: [] };
      if (cmd === "delete_plan") return { repo_id: "org0/model-0", whole_repo: true, freed_bytes: 1000, deleted: [] };
      return null;
    },
    { shouldMockEvents: true },
  );
});

afterEach(() => {
  cleanup();
  clearMocks();
});

const grid = () => screen.getByRole("grid", { name: /^Other models/ });
const rows = () => screen.getAllByTestId("model-row");
const focusedRow = () => (document.activeElement as HTMLElement).closest<HTMLElement>('[role="row"]');

describe("the list of 2,000 models", () => {
  it("puts only the rows near the viewport in the DOM, and says how many there are", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Other models/ });
    expect(grid().getAttribute("aria-rowcount")).toBe("2000");
    expect(rows().length).toBeGreaterThan(5);
    expect(rows().length).toBeLessThan(60);
    expect(rows().map((r) => r.getAttribute("aria-rowindex")).slice(0, 3)).toEqual(["1", "2", "3"]);
    expect(within(rows()[0]).getAllByRole("gridcell").length).toBe(6);
  });

  it("the filter counts the rows it leaves", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Other models/ });
    await fireEvent.input(screen.getByRole("searchbox", { name: "Filter models" }), { target: { value: "model-123" } });
    // model-123, model-1230 … model-1239
    expect(grid().getAttribute("aria-rowcount")).toBe("11");
    expect(rows().map((r) => r.dataset.id)[0]).toBe("org23/model-123");
  });

  it("moves the focus by row, by page and to the last row, rendering the rows it reaches", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Other models/ });
    const first = within(rows()[0]).getByRole("button", { name: "Delete model-0" });
    first.focus();
    await fireEvent.keyDown(first, { key: "ArrowDown" });
    await waitFor(() => expect(document.activeElement?.getAttribute("aria-label")).toBe("Delete model-1"));
    await fireEvent.keyDown(document.activeElement!, { key: "End", ctrlKey: true });
    await waitFor(() => expect(focusedRow()?.getAttribute("aria-rowindex")).toBe("2000"));
    expect(document.activeElement?.getAttribute("aria-label")).toBe("Delete model-1999");
    // Still few rows: the window, and the focused row with its neighbours.
    expect(rows().length).toBeLessThan(60);
    await fireEvent.keyDown(document.activeElement!, { key: "PageUp" });
    await waitFor(() => expect(Number(focusedRow()?.getAttribute("aria-rowindex"))).toBeLessThan(2000));
    await fireEvent.keyDown(document.activeElement!, { key: "Home", ctrlKey: true });
    await waitFor(() => expect(focusedRow()?.dataset.id).toBe("org0/model-0"));
  });

  it("moves along a row with Left and Right", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Other models/ });
    const verify = within(rows()[0]).getByRole("button", { name: "Verify model-0" });
    verify.focus();
    await fireEvent.keyDown(verify, { key: "ArrowRight" });
    expect(document.activeElement?.getAttribute("aria-label")).toBe("Open folder of model-0");
    await fireEvent.keyDown(document.activeElement!, { key: "ArrowLeft" });
    await fireEvent.keyDown(document.activeElement!, { key: "ArrowLeft" });
    expect(document.activeElement).toBe(rows()[0]);
  });

  it("the delete dialog takes the focus, keeps it, closes on Escape and gives it back", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Other models/ });
    const del = within(rows()[0]).getByRole("button", { name: "Delete model-0" });
    del.focus();
    await fireEvent.click(del);
    const dialog = await screen.findByRole("dialog", { name: "Delete org0/model-0?" });
    await waitFor(() => expect(document.activeElement?.textContent).toBe("Keep it"));
    await fireEvent.keyDown(document.activeElement!, { key: "Tab" });
    expect(document.activeElement?.textContent).toBe("Delete");
    await fireEvent.keyDown(document.activeElement!, { key: "Tab" });
    expect(document.activeElement?.textContent).toBe("Keep it");
    expect(dialog.contains(document.activeElement)).toBe(true);
    await fireEvent.keyDown(document.activeElement!, { key: "Escape" });
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(document.activeElement).toBe(del);
  });

  it("Tab and Shift+Tab go from row to row in their order, and out of the grid at its ends", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Other models/ });
    const label = () => document.activeElement?.getAttribute("aria-label") ?? document.activeElement?.tagName;
    within(rows()[0]).getByRole("button", { name: "Delete model-0" }).focus();
    await fireEvent.keyDown(document.activeElement!, { key: "Tab" });
    await waitFor(() => expect(label()).toBe("Verify model-1"));
    await fireEvent.keyDown(document.activeElement!, { key: "Tab", shiftKey: true });
    await waitFor(() => expect(label()).toBe("Delete model-0"));
    // Shift+Tab from the first control of the first row: the control before the grid.
    within(rows()[0]).getByRole("button", { name: "Verify model-0" }).focus();
    await fireEvent.keyDown(document.activeElement!, { key: "Tab", shiftKey: true });
    expect(document.activeElement?.textContent).toBe("Export all…");
    // Tab from the last control of the last row (rendered on the way): past the grid.
    await fireEvent.keyDown(within(rows()[0]).getByRole("button", { name: "Delete model-0" }), { key: "End", ctrlKey: true });
    await waitFor(() => expect(label()).toBe("Delete model-1999"));
    await fireEvent.keyDown(document.activeElement!, { key: "Tab" });
    expect(grid().contains(document.activeElement)).toBe(false);
  });

  it("the focus stays with its model when a refresh shifts the rows", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Other models/ });
    within(rows()[5]).getByRole("button", { name: "Delete model-5" }).focus();
    const other = many.groups[1].models;
    list = { ...many, groups: [many.groups[0], { type: "other", models: [{ ...model(0), id: "aaa/first", name: "first" }, ...other] }] };
    await emit("cache-changed", { repo_id: "aaa/first", state: "complete" });
    await waitFor(() => expect(grid().getAttribute("aria-rowcount")).toBe("2001"));
    await waitFor(() => expect(document.activeElement?.getAttribute("aria-label")).toBe("Delete model-5"));
    expect(focusedRow()?.getAttribute("aria-rowindex")).toBe("7");
  });
});
