import { clearMocks, mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import App from "../src/App.svelte";
import type { BudgetPlan, ErrorReport, MigrationPlan, ModelList, ModelStatus } from "../src/lib/generated";

function model(id: string, state: ModelStatus["state"], size = 0): ModelStatus {
  return {
    id,
    name: id.split("/")[1],
    team: id.split("/")[0],
    dimensions: 384,
    size_mb: 91,
    link: `https://huggingface.co/${id}`,
    state,
    size_on_disk: size,
    path: state === "not_downloaded" ? null : `/cache/models--${id.replace("/", "--")}`,
    last_accessed: null,
    last_modified: null,
    refs: state === "not_downloaded" ? [] : ["main"],
    revision: "main",
    commit: state === "not_downloaded" ? null : "c".repeat(40),
    to_get_bytes: state === "downloaded" ? 0 : 91_000_000 - size,
  };
}

/** A message on a Channel the page passed, as the native side sends it (through the IPC mock's callbacks). */
function send(channel: { id: number }, index: number, message: unknown) {
  const internals = (window as unknown as { __TAURI_INTERNALS__: { runCallback: (id: number, data: unknown) => void } }).__TAURI_INTERNALS__;
  internals.runCallback(channel.id, { index, message });
}

let list: ModelList;
let calls: { cmd: string; args: unknown }[];
let failNext: ErrorReport | null;
let settingsView: Record<string, unknown>;
let lastUpdate: Record<string, unknown> | null;
let migration: MigrationPlan;
let budget: BudgetPlan | null;
let unfinishedMove: { from: string; to: string } | null;

function listWith(...models: ModelStatus[]): ModelList {
  const size_on_disk = models.reduce((n, m) => n + m.size_on_disk, 0);
  return {
    cache_dir: "/cache",
    size_on_disk,
    groups: [
      { type: "embedding", models },
      { type: "caption", models: [] },
      { type: "other", models: [] },
    ],
    warnings: [],
    // As core counts it (status.rs): the manifest's models, `other` aside.
    summary: {
      ready: models.filter((m) => m.state === "downloaded").length,
      wanted: models.length,
      size_on_disk,
      to_get_bytes: models.reduce((n, m) => n + (m.to_get_bytes ?? 0), 0),
    },
  };
}

beforeEach(() => {
  calls = [];
  failNext = null;
  lastUpdate = null;
  budget = null;
  unfinishedMove = null;
  migration = { from: "/data", from_exists: true, cache_dir: "/cache", models: [], warnings: [] };
  settingsView = {
    cache_dir: "/env/hub",
    source: "HF_HOME",
    cache_dir_forced_by: "HF_HOME",
    endpoint: "https://huggingface.co",
    endpoint_forced: false,
    concurrency: 2,
    token_set: false,
    settings_file: "/cfg/settings.json",
    check_updates: true,
    offline: false,
    keep_under: null,
    keep_under_auto: false,
    limit_rate: null,
  };
  list = listWith(model("org/ready", "downloaded", 91_000_000), model("org/missing", "not_downloaded"), model("org/half", "partial", 45_000_000));
  mockIPC(
    (cmd, args) => {
      calls.push({ cmd, args });
      if (failNext) {
        const e = failNext;
        failNext = null;
        throw e;
      }
      switch (cmd) {
        case "list_models":
          return list;
        case "cache_info":
          return { cache_dir: "/cache", source: "HF_HOME", free_bytes: 500_000_000_000, unfinished_move: unfinishedMove };
        case "delete_plan":
          return { repo_id: (args as { id: string }).id, whole_repo: true, freed_bytes: 91_000_000, deleted: [] };
        case "delete_model": {
          const id = (args as { id: string }).id;
          list = listWith(...list.groups[0].models.filter((m) => m.id !== id));
          return { repo_id: id, whole_repo: true, freed_bytes: 91_000_000, deleted: [] };
        }
        case "download_model": {
          const { id, onEvent } = args as { id: string; onEvent: { id: number } };
          // The Channel: messages go to the callback the page registered.
          const cb = (window as unknown as Record<string, (m: unknown) => void>)[`_${onEvent.id}`];
          cb?.({ index: 0, message: { event: "progress", repo_id: id, bytes: 50, total: 100, speed: 1_000_000, eta_seconds: 5 } });
          return new Promise((resolve) => setTimeout(resolve, 50)).then(() => {
            list = listWith(...list.groups[0].models.map((m) => (m.id === id ? { ...m, state: "downloaded" as const, size_on_disk: 91_000_000 } : m)));
          });
        }
        case "get_settings":
          return settingsView;
        case "set_settings": {
          const { update } = args as { update: Record<string, unknown> };
          lastUpdate = update;
          settingsView = { ...settingsView, concurrency: (update.concurrency as number) ?? 2, token_set: settingsView.token_set || !!update.token };
          return settingsView;
        }
        case "migration_plan":
          return migration;
        case "migrate": {
          const { onEvent } = args as { onEvent: { id: number } };
          const cb = (window as unknown as Record<string, (m: unknown) => void>)[`_${onEvent.id}`];
          const outcomes = migration.models.map((m) => ({
            repo_id: m.repo_id,
            files: m.files,
            bytes: m.bytes,
            local_commit: false,
            problems: [],
            source_removed: true,
            advice: null,
          }));
          let index = 0;
          for (const o of outcomes) {
            cb?.({ index: index++, message: { event: "started", repo_id: o.repo_id, bytes: o.bytes, files: o.files } });
            cb?.({ index: index++, message: { event: "file", repo_id: o.repo_id, path: "model.safetensors", bytes: o.bytes } });
            cb?.({ index: index++, message: { event: "model", error: null, ...o } });
          }
          migration = { ...migration, models: [] };
          return outcomes;
        }
        case "verify_model":
          return { ok: true, checked: 5 };
        case "plugin:dialog|save":
          return "/out/ready.tar";
        case "plugin:dialog|open":
          return "/in/models.tar";
        case "export_models": {
          const { ids, manifest, file, onEvent } = args as { ids: string[]; manifest: boolean; file: string; onEvent: { id: number } };
          send(onEvent, 0, { event: "model", repo_id: ids[0] ?? "org/ready" });
          send(onEvent, 1, { event: "progress", bytes_done: 50, bytes_total: 100 });
          const models = (manifest ? ["org/ready", "org/half"] : ids).map((id) => ({ repo_id: id, repo_type: "model", commit: "c".repeat(40), files: 3, bytes: 91_000_000 }));
          return { file, models, files: 3, bytes: 91_000_000, archive_bytes: 91_010_000 };
        }
        case "import_archive": {
          const { onEvent } = args as { onEvent: { id: number } };
          send(onEvent, 0, { event: "progress", bytes_done: 10, bytes_total: 100 });
          return {
            models: ["org/ready"], blobs_added: 2, blobs_present: 1, bytes_written: 91_000_000, dry_run: false, notes: [],
            refused: [{ path: '"../escaped.txt"', reason: "a path with '..', '.' or an empty part" }], damaged: [],
          };
        }
        case "move_plan": {
          const { dest, leaveSymlink } = args as { dest: string; leaveSymlink: boolean };
          if (dest.startsWith("/home")) throw { kind: "move_refused", message: `cannot move the cache to ${dest}: it is neither empty nor a Hugging Face cache (it holds notes.txt)` };
          if (dest === "/srv/hub") {
            return {
              from: "/cache", to: dest, source: "settings", method: "copy", into_existing_cache: true, repos: [], bytes: 0, files: 0,
              bytes_to_copy: 0, free_bytes: 1_000_000, leave_symlink: false, remember: true, resuming: true, notes: [],
            };
          }
          if (!leaveSymlink) throw { kind: "move_refused", message: "HF_HOME chooses the cache's place (/env/hub)" };
          return {
            from: "/env/hub", to: dest, source: "HF_HOME", method: "copy", into_existing_cache: false,
            repos: [{ folder: "models--org--ready", bytes: 91_000_000, files: 3 }],
            bytes: 91_000_000, files: 3, bytes_to_copy: 91_000_000, free_bytes: 400_000_000_000,
            leave_symlink: true, remember: false, resuming: false, notes: ["HF_HOME still names the old place, which becomes a link to the new one"],
          };
        }
        case "move_cache": {
          const { dest, onEvent } = args as { dest: string; onEvent: { id: number } };
          send(onEvent, 0, { event: "progress", bytes_done: 45_500_000, bytes_total: 91_000_000 });
          return new Promise((resolve) => setTimeout(resolve, 30)).then(() => ({
            from: "/env/hub", to: dest, method: "copy", repos: 1, bytes: 91_000_000, bytes_copied: 91_000_000, remembered: false, symlink: true,
            without_symlinks: true,
          }));
        }
        case "updates":
          return { models: [], unchecked: [] };
        case "budget_plan":
          return budget;
        case "apply_budget": {
          const done = budget;
          budget = null;
          return done;
        }
        case "space_report":
          return {
            cache_dir: "/cache",
            cache_bytes: 136_000_000,
            free_bytes: 500_000_000_000,
            incomplete_bytes: 1_000_000,
            prunable_bytes: 2_000_000,
            repos: [
              { id: "org/ready", type: "embedding", in_manifest: true, size_on_disk: 91_000_000, shared_bytes: 90_000_000 },
              { id: "org/half", type: "embedding", in_manifest: true, size_on_disk: 45_000_000, shared_bytes: 0 },
              { id: "someone/else", type: "other", in_manifest: false, size_on_disk: 95_000_000, shared_bytes: 90_000_000 },
            ],
            shared: [{ hash: "ab".repeat(32), bytes: 90_000_000, repos: ["org/ready", "someone/else"] }],
            hf_home: "/home/ann/.cache/huggingface",
            home: [{ name: "xet", path: "/home/ann/.cache/huggingface/xet", bytes: 30_000_000_000, clearable: true }],
          };
        case "clear_xet":
          return 30_000_000_000;
        case "sync_models": {
          const { modelType, onEvent } = args as { modelType: string | null; onEvent: { id: number } };
          const progress = { event: "sync_progress", bytes: 45, total: 100, speed: 2_000_000, eta_seconds: 30, models_ready: 1, models_failed: 0, models: 3 };
          send(onEvent, 0, progress);
          return new Promise((resolve) => setTimeout(resolve, 80)).then(() => {
            list = listWith(...list.groups[0].models.map((m) => ({ ...m, state: "downloaded" as const, to_get_bytes: 0 })));
            const models = list.groups[0].models.map((m) => ({ id: m.id, revision: "main", commit: "c".repeat(40), error: null }));
            return { ready: models.length, not_ready: 0, models, modelType };
          });
        }
        case "check_updates":
          return { models: [{ id: "org/ready", revision: "main", local_commit: "c".repeat(40), remote_commit: "d".repeat(40), changed_files: ["a"], download_bytes: 5 }], unchecked: [] };
        case "update_model": {
          const { id } = args as { id: string };
          return new Promise((resolve) => setTimeout(resolve, 30)).then(() => ({ commit: "a".repeat(40), prunable_bytes: 4_000_000, pruned: false, id }));
        }
        case "add_model": {
          const { id, modelType } = args as { id: string; modelType: string };
          if (id.split("/").length > 2) throw { kind: "invalid_repo_id", message: `invalid repo id "${id}": it has more than one '/'` };
          list = listWith(...list.groups[0].models, model(id, "not_downloaded"));
          return modelType === "embedding" ? id : id;
        }
        default:
          return null;
      }
    },
    { shouldMockEvents: true },
  );
});

afterEach(() => {
  cleanup();
  clearMocks();
});

const row = (id: string) => screen.getAllByTestId("model-row").find((r) => r.dataset.id === id)!;

describe("the models page", () => {
  it("groups models by type with their state, size and the cache totals", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    expect(screen.getByRole("heading", { name: /^Caption/ })).toBeTruthy();
    expect(within(row("org/ready")).getByTestId("state").textContent).toBe("Downloaded");
    expect(within(row("org/missing")).getByTestId("state").textContent).toBe("Not downloaded");
    expect(within(row("org/half")).getByRole("button", { name: "Download half" }).textContent?.trim()).toBe("Resume");
    expect(screen.getByTestId("totals").textContent).toContain("136 MB");
    expect(screen.getByTestId("totals").textContent).toContain("500 GB");
    // Core's summary: the manifest's models that are downloaded, of all of them.
    // What the two that are not ready still need: 91 MB, and 46 of the other's 91.
    expect(screen.getByTestId("ready").textContent).toBe("1 of 3 ready · 137 MB to get");
    expect(screen.getByText("/cache")).toBeTruthy();
  });

  it("offers the actions that fit each state", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    const ready = within(row("org/ready"));
    expect(ready.queryByRole("button", { name: "Download ready" })).toBeNull();
    expect(ready.getByRole("button", { name: "Delete ready" })).toBeTruthy();
    expect(ready.getByRole("button", { name: "Verify ready" })).toBeTruthy();
    const missing = within(row("org/missing"));
    expect(missing.getByRole("button", { name: "Download missing" })).toBeTruthy();
    expect(missing.queryByRole("button", { name: "Delete missing" })).toBeNull();
    expect(missing.getByRole("link", { name: "missing on the hub" })).toBeTruthy();
  });

  it("downloads with progress, then shows the model as downloaded", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    await fireEvent.click(within(row("org/missing")).getByRole("button", { name: "Download missing" }));
    await waitFor(() => expect(within(row("org/missing")).getByTestId("state").textContent).toBe("Downloaded"));
    expect(calls.some((c) => c.cmd === "download_model" && (c.args as { id: string }).id === "org/missing")).toBe(true);
    expect(screen.getByRole("status").textContent).toContain("org/missing downloaded");
  });

  it("asks before deleting, showing the bytes it frees", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    await fireEvent.click(within(row("org/ready")).getByRole("button", { name: "Delete ready" }));
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByTestId("freed").textContent).toBe("91.0 MB");
    await fireEvent.click(within(dialog).getByRole("button", { name: "Keep it" }));
    expect(calls.some((c) => c.cmd === "delete_model")).toBe(false);
    await fireEvent.click(within(row("org/ready")).getByRole("button", { name: "Delete ready" }));
    await fireEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Delete" }));
    await waitFor(() => expect(screen.queryAllByTestId("model-row").map((r) => r.dataset.id)).not.toContain("org/ready"));
  });

  it("shows errors as readable messages", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    failNext = { kind: "auth", message: "org/missing is gated or private and no token is set: set HF_TOKEN" };
    await fireEvent.click(within(row("org/missing")).getByRole("button", { name: "Download missing" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("set HF_TOKEN");
  });

  it("filters by name, id or team", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    await fireEvent.input(screen.getByRole("searchbox", { name: "Filter models" }), { target: { value: "half" } });
    expect(screen.getAllByTestId("model-row").map((r) => r.dataset.id)).toEqual(["org/half"]);
    await fireEvent.input(screen.getByRole("searchbox", { name: "Filter models" }), { target: { value: "zzz" } });
    expect(screen.getByText(/No model matches/)).toBeTruthy();
  });

  it("adds a model by id, and says why an id is refused", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    const input = screen.getByRole("textbox", { name: "Model id to add" });
    await fireEvent.input(input, { target: { value: "a/b/c" } });
    await fireEvent.click(screen.getByRole("button", { name: "Add" }));
    expect((await screen.findByRole("alert")).textContent).toContain("more than one '/'");
    await fireEvent.input(input, { target: { value: "BAAI/bge-reranker-base" } });
    await fireEvent.click(screen.getByRole("button", { name: "Add" }));
    await waitFor(() => expect(screen.getAllByTestId("model-row").map((r) => r.dataset.id)).toContain("BAAI/bge-reranker-base"));
    const call = calls.filter((c) => c.cmd === "add_model").at(-1)!;
    expect(call.args).toEqual({ id: "BAAI/bge-reranker-base", modelType: "embedding" });
  });

  it("shows settings, says which variable fixes the cache, and never shows the token", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    await fireEvent.click(screen.getByRole("button", { name: "Settings" }));
    const why = await screen.findByTestId("cache-why");
    expect(why.textContent).toContain("Set by the environment variable HF_HOME");
    expect((screen.getByLabelText("Cache location") as HTMLInputElement).disabled).toBe(true);
    await fireEvent.input(screen.getByLabelText("Hub token"), { target: { value: "hf_secret" } });
    await fireEvent.input(screen.getByLabelText("Models downloaded at once"), { target: { value: "4" } });
    await fireEvent.input(screen.getByLabelText(/^Limit the download speed/), { target: { value: "2" } });
    const daily = screen.getByLabelText("Check for model updates at start and daily") as HTMLInputElement;
    expect(daily.checked).toBe(true);
    await fireEvent.click(daily);
    await fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByText(/Saved and applied/);
    expect(lastUpdate).toEqual({ cacheDir: undefined, endpoint: "https://huggingface.co", concurrency: 4, token: "hf_secret", checkUpdates: false, keepUnder: 0, keepUnderAuto: false, limitRate: 2_097_152 });
    const token = screen.getByLabelText("Hub token") as HTMLInputElement;
    expect(token.value).toBe("");
    expect(token.placeholder).toContain("A token is set");
  });

  it("moves the cache: the variable's case explained, the plan, the progress, then the new place", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    await fireEvent.click(screen.getByRole("button", { name: "Settings" }));
    await fireEvent.click(await screen.findByRole("button", { name: "Move the cache…" }));
    const dialog = await screen.findByRole("dialog", { name: "Move the cache" });
    expect(within(dialog).getByTestId("move-variable").textContent).toContain("HF_HOME chooses the cache's place");
    const folder = within(dialog).getByLabelText(/^New folder/) as HTMLInputElement;
    const moveButton = within(dialog).getByRole("button", { name: "Move" }) as HTMLButtonElement;

    // Someone's own folder: refused, with why.
    await fireEvent.input(folder, { target: { value: "/home/ann/docs" } });
    await fireEvent.change(folder);
    expect((await within(dialog).findByRole("alert")).textContent).toContain("neither empty nor a Hugging Face cache");
    expect(moveButton.disabled).toBe(true);

    // A variable chose the place: refused until the link is asked for.
    await fireEvent.input(folder, { target: { value: "/mnt/big/hub" } });
    await fireEvent.change(folder);
    expect((await within(dialog).findByRole("alert")).textContent).toContain("HF_HOME chooses");
    await fireEvent.click(within(dialog).getByLabelText("Leave a link at the old place"));
    const plan = await within(dialog).findByTestId("move-plan");
    expect(plan.textContent).toContain("91.0 MB in 1 repo (3 files)");
    expect(plan.textContent).toContain("copied to the other disk and checked");
    expect(plan.textContent).toContain("400 GB");
    expect(plan.textContent).toContain("The old path becomes a link to it.");
    expect(moveButton.disabled).toBe(false);

    await fireEvent.click(moveButton);
    await waitFor(() => expect(within(dialog).getByTestId("move-status").textContent).toContain("Done: the cache is now in /mnt/big/hub"));
    const call = calls.filter((c) => c.cmd === "move_cache").at(-1)!;
    expect(call.args).toMatchObject({ dest: "/mnt/big/hub", leaveSymlink: true });
    expect(screen.getByText(/The cache is now in \/mnt\/big\/hub/)).toBeTruthy();
    expect(screen.getByTestId("move-status").textContent).toContain("That disk takes no symlinks, so each model file there is a plain copy");
    await fireEvent.click(within(dialog).getByRole("button", { name: "Close" }));
    expect(screen.queryByRole("dialog", { name: "Move the cache" })).toBeNull();
  });

  it("exports a model and the manifest through the save dialog, and imports through the open dialog, saying what was refused", async () => {
    list = listWith(model("org/ready", "downloaded", 91_000_000), model("org/half", "partial", 1000));
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    await fireEvent.click(screen.getByRole("button", { name: "Export ready" }));
    await screen.findByText(/Exported 1 model to \/out\/ready.tar \(91.0 MB\), every file checked/);
    expect(calls.find((c) => c.cmd === "export_models")!.args).toMatchObject({ ids: ["org/ready"], manifest: false, file: "/out/ready.tar" });
    expect(screen.queryByRole("button", { name: "Export half" })).toBeNull();

    await fireEvent.click(screen.getByRole("button", { name: "Export all…" }));
    await screen.findByText(/Exported 2 models/);

    await fireEvent.click(screen.getByRole("button", { name: "Import…" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Imported 1 model: 2 files added (91.0 MB), 1 already there.");
    expect(alert.textContent).toContain('Not imported: "../escaped.txt"');
    expect(calls.find((c) => c.cmd === "import_archive")!.args).toMatchObject({ file: "/in/models.tar" });
  });

  it("imports an archive dropped on the window, and says so when what was dropped is no archive", async () => {
    mockWindows("main"); // a webview to listen on, as in the app
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    // As Tauri delivers a drop to the webview (the event onDragDropEvent
    // listens to). The page subscribes after its first paint: a drop before
    // that reaches no one, so the first is repeated until it is heard.
    const drop = (paths: string[]) => emit("tauri://drag-drop", { paths, position: { x: 10, y: 10 } });
    await waitFor(async () => {
      await drop(["/home/ann/notes.txt"]);
      expect(screen.getByRole("alert").textContent).toContain("Only model archives (.tar, from Export) can be dropped here.");
    });
    expect(calls.map((c) => c.cmd)).not.toContain("import_archive");

    await drop(["/home/ann/notes.txt", "/home/ann/Models.TAR"]);
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("Imported 1 model: 2 files added"));
    expect(calls.filter((c) => c.cmd === "import_archive").map((c) => (c.args as { file: string }).file)).toEqual(["/home/ann/Models.TAR"]);
  });

  it("offers to finish a move that was cut short", async () => {
    unfinishedMove = { from: "/cache", to: "/srv/hub" };
    render(App);
    const banner = await screen.findByTestId("unfinished-move");
    expect(banner.textContent).toContain("to /srv/hub was cut short");
    await fireEvent.click(within(banner).getByRole("button", { name: "Finish the move" }));
    const dialog = await screen.findByRole("dialog", { name: "Move the cache" });
    expect((within(dialog).getByLabelText(/^New folder/) as HTMLInputElement).value).toBe("/srv/hub");
    expect((await within(dialog).findByTestId("move-plan")).textContent).toContain("This finishes a move that was interrupted.");
  });

  it("follows the cache live: a change on disk refreshes the list without a click", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    list = listWith(...list.groups[0].models, model("org/new", "downloaded", 1000));
    await emit("cache-changed", { repo_id: "org/new", state: "complete" });
    await waitFor(() => expect(screen.getAllByTestId("model-row").map((r) => r.dataset.id)).toContain("org/new"));
  });

  it("a burst of changes costs at most two loads of the list, and the last change shows", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    const before = calls.filter((c) => c.cmd === "list_models").length;
    // Twenty changes arrive before the first load has answered.
    const burst = [];
    for (let i = 0; i < 20; i++) {
      list = listWith(...list.groups[0].models.filter((m) => !m.id.startsWith("org/burst")), model(`org/burst-${i}`, "partial", i));
      burst.push(emit("cache-changed", { repo_id: `org/burst-${i}`, state: "partial" }));
    }
    await Promise.all(burst);
    await waitFor(() => expect(screen.getAllByTestId("model-row").map((r) => r.dataset.id)).toContain("org/burst-19"));
    const loads = calls.filter((c) => c.cmd === "list_models").length - before;
    expect(loads).toBeGreaterThanOrEqual(1);
    expect(loads).toBeLessThanOrEqual(2);
  });

  it("offers no migration when the old folders hold nothing", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    expect(screen.queryByTestId("migration")).toBeNull();
  });

  it("offers the migration of the old folders, shows the plan, and runs it", async () => {
    migration = {
      from: "/data",
      from_exists: true,
      cache_dir: "/cache",
      warnings: [],
      models: [
        { repo_id: "acme/embed", layout: "folder", source: "/data/embedding/models/acme/embed", target: "/cache/models--acme--embed", bytes: 3_000_000, files: 4, method: "move", repo_type: "model" },
        { repo_id: "Salesforce/blip", layout: "hf_cache", source: "/data/image-caption/Salesforce--blip/models--Salesforce--blip", target: "/cache/models--Salesforce--blip", bytes: 2_000_000, files: 3, method: "copy", repo_type: "model" },
      ],
    };
    render(App);
    const banner = await screen.findByTestId("migration");
    expect(banner.textContent).toContain("2 models (5.00 MB)");
    await fireEvent.click(within(banner).getByRole("button", { name: "Show plan" }));
    expect(within(banner).getByText("/data/embedding/models/acme/embed")).toBeTruthy();
    expect(within(banner).getByText("Copy, check, then remove")).toBeTruthy();
    await fireEvent.click(within(banner).getByRole("button", { name: "Migrate" }));
    await screen.findByText("2 models were moved into the cache; nothing was downloaded.");
    expect(screen.queryByTestId("migration")).toBeNull();
    expect(calls.some((c) => c.cmd === "migrate")).toBe(true);
  });

  it("gets everything the manifest still needs with one button, with the set's progress", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    await fireEvent.click(screen.getByTestId("get-all"));
    const status = await screen.findByTestId("get-all-progress");
    await waitFor(() => expect(status.textContent).toBe("Getting 1 of 3 · 45% · 2.00 MB/s 30 s left"));
    await screen.findByText("3 of 3 models ready.");
    expect(calls.find((c) => c.cmd === "sync_models")?.args).toMatchObject({ modelType: null });
    // The list read again: everything is there, so the button goes.
    await waitFor(() => expect(screen.queryByTestId("get-all")).toBeNull());
    expect(within(row("org/missing")).getByTestId("state").textContent).toBe("Downloaded");
  });

  it("a group's Get all asks for its type only", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    await fireEvent.click(screen.getByRole("button", { name: "Get all Embedding models" }));
    await screen.findByText("3 of 3 models ready.");
    expect(calls.find((c) => c.cmd === "sync_models")?.args).toMatchObject({ modelType: "embedding" });
  });

  it("offers an update with its size when the model moved upstream, and runs it", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    expect(within(row("org/ready")).queryByRole("button", { name: /^Update/ })).toBeNull();
    const outdated = { id: "org/ready", revision: "main", local_commit: "c".repeat(40), remote_commit: "d".repeat(40), changed_files: ["config.json"], download_bytes: 120_000_000 };
    await emit("updates-changed", { models: [outdated], unchecked: [] });
    const button = await within(row("org/ready")).findByRole("button", { name: "Update ready, 120 MB" });
    expect(button.textContent?.trim()).toBe("Update · 120 MB");
    await fireEvent.click(button);
    await screen.findByText("org/ready updated. The old revision stays until Prune frees 4.00 MB.");
    expect(calls.find((c) => c.cmd === "update_model")?.args).toMatchObject({ id: "org/ready" });
  });

  it("checks for updates on demand from the settings", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    await fireEvent.click(screen.getByRole("button", { name: "Settings" }));
    await fireEvent.click(await screen.findByRole("button", { name: "Check for updates now" }));
    await screen.findByText("1 model has an update.");
    expect(calls.some((c) => c.cmd === "check_updates")).toBe(true);
  });

  it("shows where the space goes, filters the list from the picture, and clears the xet cache", async () => {
    render(App);
    await screen.findByRole("heading", { name: /^Embedding/ });
    await fireEvent.click(screen.getByRole("button", { name: "Disk" }));
    const disk = await screen.findByTestId("disk");
    await within(disk).findByText(/Prune would free/);
    expect(disk.textContent).toContain("136 MB");
    expect(disk.textContent).toContain("500 GB");
    // A part of the bar filters the list to its model.
    await fireEvent.click(within(disk).getByRole("button", { name: "org/half, 45.0 MB, show it in the list" }));
    await waitFor(() => expect(screen.getAllByTestId("model-row").map((r) => r.dataset.id)).toEqual(["org/half"]));
    expect(within(disk).getByTestId("disk-bar").getAttribute("aria-label")).toBe("The disk: the cache 136 MB, free 500 GB");
    // A file two models share (huggingface_hub 2.5's store) is one part of the bar, and one line, with both.
    within(disk).getByRole("button", { name: "shared by org/ready, someone/else, 90.0 MB" });
    expect(within(disk).getAllByTestId("shared-file").map((li) => li.textContent?.trim())).toEqual(["90.0 MB shared by org/ready, someone/else"]);
    await fireEvent.click(within(disk).getByRole("button", { name: "Clear the xet cache, 30.0 GB" }));
    await screen.findByText("The xet cache was emptied; 30.0 GB freed.");
  });

  it("proposes the budget's plan and removes only on a click", async () => {
    budget = {
      keep_under: 100_000_000,
      size_before: 136_000_000,
      size_after: 95_000_000,
      fits: true,
      repos: [{ repo_id: "someone/else", repo_type: "model", last_accessed: 1, size_on_disk: 41_000_000 }],
    };
    render(App);
    const banner = await screen.findByTestId("budget");
    expect(banner.textContent).toContain("over its budget of 100 MB");
    expect(banner.textContent).toContain("someone/else");
    expect(calls.some((c) => c.cmd === "apply_budget")).toBe(false);
    await fireEvent.click(within(banner).getByRole("button", { name: "Remove them" }));
    await screen.findByText("1 model removed; the cache takes 95.0 MB now.");
    await waitFor(() => expect(screen.queryByTestId("budget")).toBeNull());
  });
});
