import { browser, $, $$, expect } from "@wdio/globals";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";

const cache = () => process.env.HAID_E2E_CACHE;
const root = path.resolve("..");
const shots = path.resolve("../target/e2e");
/** A screenshot of what is painted: two frames after the DOM is as the test expects. */
async function shot(name) {
  await browser.executeAsync((done) => requestAnimationFrame(() => requestAnimationFrame(() => done())));
  await browser.saveScreenshot(path.join(shots, `${name}.png`));
}
const row = (id) => $(`[data-testid="model-row"][data-id="${id}"]`);

// axe-core in the real webview: its source is injected with execute (the
// page's CSP allows no script from elsewhere), then run on the whole page.
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
/** Checks the page as it is now; fails on a serious or critical violation. The full report goes beside the screenshots. */
async function checkAccessibility(name) {
  if (!(await browser.execute(() => typeof window.axe === "object"))) await browser.execute(axeSource);
  const violations = await browser.executeAsync((done) => {
    window.axe.run(document, { resultTypes: ["violations"] }).then(
      (r) => done(r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }))),
      (e) => done([{ id: "axe-failed", impact: "critical", help: String(e), nodes: [] }]),
    );
  });
  fs.writeFileSync(path.join(shots, `axe-${name}.json`), JSON.stringify(violations, null, 2));
  expect(violations.filter((v) => v.impact === "serious" || v.impact === "critical")).toEqual([]);
}

/**
 * The system's save and open dialogs (GTK's, which WebDriver cannot reach)
 * answered with these paths where the page's IPC meets the app: everything
 * from the click to the command is the page's own code, and only the dialog
 * plugin's answer is ours. `answers` maps a command to what it returns.
 */
async function answerDialogs(answers) {
  await browser.execute((answers) => {
    window.__appFetch ??= window.fetch;
    window.fetch = (url, init) => {
      const cmd = decodeURIComponent(String(url).split("/").pop());
      if (!(cmd in answers)) return window.__appFetch(url, init);
      const headers = { "Tauri-Response": "ok", "Content-Type": "application/json" };
      return Promise.resolve(new Response(JSON.stringify(answers[cmd]), { headers }));
    };
  }, answers);
}

/** Waits for the page's notice (the status banner) to match `pattern`; its text. */
async function notice(pattern) {
  const banner = $(".banner[role=status]");
  await browser.waitUntil(async () => (await banner.isExisting()) && pattern.test(await banner.getText()), {
    timeout: 20000,
    timeoutMsg: `no notice matching ${pattern}`,
  });
  return banner.getText();
}

/** What another program (Python, a script) leaves in the cache. */
function writeModel(name) {
  const repo = path.join(cache(), `models--acme--${name}`);
  const content = Buffer.from(`{"written by": "another process"}`);
  const etag = crypto.createHash("sha256").update(content).digest("hex");
  const commit = crypto.createHash("sha1").update(name).digest("hex");
  fs.mkdirSync(path.join(repo, "blobs"), { recursive: true });
  fs.mkdirSync(path.join(repo, "snapshots", commit), { recursive: true });
  fs.mkdirSync(path.join(repo, "refs"), { recursive: true });
  fs.writeFileSync(path.join(repo, "blobs", etag), content);
  fs.symlinkSync(`../../blobs/${etag}`, path.join(repo, "snapshots", commit, "config.json"));
  fs.writeFileSync(path.join(repo, "refs", "main"), commit);
}

describe("HAID Models", () => {
  it("shows the models grouped by type", async () => {
    await browser.waitUntil(async () => (await $$('[data-testid="group"]')).length >= 2, { timeout: 20000 });
    const types = await $$('[data-testid="group"]').map((g) => g.getAttribute("data-type"));
    expect(types.slice(0, 2)).toEqual(["embedding", "caption"]);
    await expect(row("acme/demo")).toHaveAttribute("data-state", "not_downloaded");
    // The header's count is core's summary: nothing of the manifest is there yet.
    await expect($('[data-testid="ready"]')).toHaveText(expect.stringMatching(/^0 of \d+ ready · [\d.]+ [kMG]B to get$/));
    await shot("01-groups");
    await checkAccessibility("main-window");
  });

  it("downloads with progress, then shows Downloaded, with the files on disk", async () => {
    await $('button[aria-label="Download Demo embedder"]').click();
    await expect(row("acme/demo")).toHaveAttribute("data-state", "downloading", { wait: 5000 });
    const bar = $('[role="progressbar"]');
    await bar.waitForExist({ timeout: 5000 });
    await browser.waitUntil(async () => Number(await bar.getAttribute("aria-valuenow")) >= 20, { timeout: 10000 });
    await shot("02-downloading");
    await expect(row("acme/demo")).toHaveAttribute("data-state", "downloaded", { wait: 30000 });
    await expect($('[data-testid="ready"]')).toHaveText(expect.stringMatching(/^1 of \d+ ready · /));
    await shot("03-downloaded");
    const snapshots = path.join(cache(), "models--acme--demo/snapshots");
    const [commit] = fs.readdirSync(snapshots);
    expect(fs.statSync(path.join(snapshots, commit, "model.safetensors")).size).toBe(12_000_000);
  });

  it("shows a model another process writes, without a click", async () => {
    writeModel("fromoutside");
    await row("acme/fromoutside").waitForExist({ timeout: 5000 });
    await expect(row("acme/fromoutside")).toHaveAttribute("data-state", "downloaded");
    await shot("04-appeared");
  });

  it("deletes after confirmation, from disk and from the list", async () => {
    await $('button[aria-label="Delete Demo embedder"]').click();
    const dialog = await $('[role="dialog"]');
    await dialog.waitForExist({ timeout: 5000 });
    await expect($('[data-testid="freed"]')).toHaveText("12.0 MB");
    await shot("05-confirm-delete");
    await checkAccessibility("delete-dialog");
    await dialog.$("button=Delete").click();
    await expect(row("acme/demo")).toHaveAttribute("data-state", "not_downloaded", { wait: 10000 });
    expect(fs.existsSync(path.join(cache(), "models--acme--demo"))).toBe(false);
    await shot("06-deleted");
  });

  it("has a tray icon with the quick status", async () => {
    // Xvfb has no tray host to look at, so ask the app for its tray's menu.
    const labels = await browser.executeAsync((done) => {
      window.__TAURI_INTERNALS__.invoke("tray_status").then(done, (e) => done(["error", JSON.stringify(e)]));
    });
    expect(labels[0]).toMatch(/^0 of 8 models ready · [\d.]+ GB$/);
    expect(labels).toContain("Open HAID Models");
    expect(labels).toContain("Limit speed");
    expect(labels).toContain("Quit");
  });

  it("offers the old folders' models, migrates them, and lists them as downloaded", async () => {
    const banner = $('[data-testid="migration"]');
    await banner.waitForExist({ timeout: 5000 });
    await banner.$("button=Show plan").click();
    await expect(banner).toHaveText(expect.stringContaining("acme/legacy"));
    await shot("07-migration-offered");
    await banner.$("button=Migrate").click();
    await row("acme/legacy").waitForExist({ timeout: 20000 });
    await expect(row("acme/legacy")).toHaveAttribute("data-state", "downloaded", { wait: 10000 });
    await expect($('[role="status"]')).toHaveText(expect.stringContaining("moved into the cache"), { wait: 10000 });
    await shot("08-migrated");
    expect(fs.existsSync(path.join(process.env.HAID_E2E_OLD_DATA, "embedding/models/acme/legacy"))).toBe(false);
    const snapshots = path.join(cache(), "models--acme--legacy/snapshots");
    const [commit] = fs.readdirSync(snapshots);
    expect(fs.statSync(path.join(snapshots, commit, "model.safetensors")).size).toBe(3_000_000);
  });
  it("shows the settings, which pass the accessibility check", async () => {
    await $("button=Settings").click();
    await $('[data-testid="cache-why"]').waitForExist({ timeout: 5000 });
    await expect($('[data-testid="cache-why"]')).toHaveText(expect.stringContaining("Set by the environment variable"));
    await shot("09-settings");
    await checkAccessibility("settings");
    await $("button=Close").click();
    await $('[data-testid="cache-why"]').waitForExist({ reverse: true, timeout: 5000 });
  });

  it("lists hundreds of models with only the rows near the viewport in the DOM, and the keyboard reaches the others", async () => {
    const grid = $('[data-type="other"] [role="grid"]');
    const before = Number(await grid.getAttribute("aria-rowcount"));
    for (let i = 0; i < 300; i++) writeModel(`many-${String(i).padStart(3, "0")}`);
    await browser.waitUntil(async () => Number(await grid.getAttribute("aria-rowcount")) === before + 300, { timeout: 30000 });
    const count = Number(await grid.getAttribute("aria-rowcount"));
    expect((await $$('[data-testid="model-row"]')).length).toBeLessThan(80);
    // From the first row of the group to its last with Ctrl+End, then back.
    const first = await grid.$('[role="row"][aria-rowindex="1"] [data-action="verify"]');
    await browser.execute((el) => el.focus(), first);
    await browser.keys(["Control", "End"]);
    const focused = () => browser.execute(() => {
      const row = document.activeElement?.closest('[role="row"]');
      const r = row?.getBoundingClientRect();
      return row ? { index: Number(row.getAttribute("aria-rowindex")), action: document.activeElement.dataset.action, seen: r.top >= 0 && r.bottom <= window.innerHeight } : null;
    });
    await browser.waitUntil(async () => (await focused())?.index === count, { timeout: 5000 });
    expect(await focused()).toEqual({ index: count, action: "verify", seen: true });
    await shot("10-many-models-end");
    await browser.keys(["ArrowUp"]);
    await browser.waitUntil(async () => (await focused())?.index === count - 1, { timeout: 5000 });
    await browser.keys(["Control", "Home"]);
    await browser.waitUntil(async () => (await focused())?.index === 1, { timeout: 5000 });
    expect((await focused()).seen).toBe(true);
    // Page Down twice, then Tab past the row's last control: the next row, in view.
    await browser.keys(["PageDown"]);
    await browser.keys(["PageDown"]);
    const mid = (await focused()).index;
    expect(mid).toBeGreaterThan(10);
    for (let k = 0; k < 6 && (await focused()).index === mid; k++) await browser.keys(["Tab"]);
    expect(await focused()).toEqual({ index: mid + 1, action: "verify", seen: true });
    // The filter still finds a row that was never rendered.
    await $('input[type="search"]').setValue("many-250");
    await row("acme/many-250").waitForExist({ timeout: 5000 });
    await expect(grid).toHaveAttribute("aria-rowcount", "1");
    await $('input[type="search"]').clearValue();
  });

  it("gets a whole group with one button, then updates a model whose branch moved, fetching only what changed", async () => {
    // The filter the test before left (clearValue sends no input event in WebKit).
    await browser.execute(() => {
      const search = document.querySelector('input[type="search"]');
      search.value = "";
      search.dispatchEvent(new Event("input", { bubbles: true }));
    });
    const group = $('[data-type="reranker"]');
    await group.waitForExist({ timeout: 5000 });
    await group.$('button[aria-label="Get all Reranker models"]').click();
    await expect(row("acme/rr-a")).toHaveAttribute("data-state", "downloaded", { wait: 30000 });
    await expect(row("acme/rr-b")).toHaveAttribute("data-state", "downloaded", { wait: 30000 });
    await group.$('button[aria-label="Get all Reranker models"]').waitForExist({ reverse: true, timeout: 5000 });
    const repo = path.join(cache(), "models--acme--rr-a");
    const before = fs.readFileSync(path.join(repo, "refs/main"), "utf8");
    await shot("11-group-got");

    // `main` moves on the hub: the config changes, the weights do not.
    const hubUrl = process.env.HAID_E2E_HUB_URL;
    await fetch(`${hubUrl}/_fake/advance/acme/rr-a`, { method: "POST" });
    fs.writeFileSync(path.join(process.env.HAID_E2E_HUB_ROOT, "acme/rr-a/config.json"), '{"version": 2}');
    const served = async () => (await (await fetch(`${hubUrl}/_fake/stats`)).json()).bytes_served;
    await $("button=Settings").click();
    await $("button=Check for updates now").click();
    // The models written by the tests before are not on this hub: "could not be checked" follows.
    await expect($("p*=1 model has an update.")).toBeExisting({ wait: 20000 });
    const update = row("acme/rr-a").$('[data-action="update"]');
    await update.waitForExist({ timeout: 10000 });
    await expect(update).toHaveText(expect.stringMatching(/^Update · 14 B$/));
    await shot("12-update-offered");
    const start = await served();
    await update.click();
    await update.waitForExist({ reverse: true, timeout: 20000 });
    await expect(row("acme/rr-a")).toHaveAttribute("data-state", "downloaded", { wait: 10000 });
    const after = fs.readFileSync(path.join(repo, "refs/main"), "utf8");
    expect(after).not.toEqual(before);
    expect(fs.readFileSync(path.join(repo, "snapshots", after, "config.json"), "utf8")).toBe('{"version": 2}');
    expect((await served()) - start).toBe(14);
    await shot("13-updated");
    await browser.execute(() => window.scrollTo(0, 0));
    await $("button=Close").click();
  });

  it("shows where the space goes, a file two models share once, and a part of the picture filters the list", async () => {
    // huggingface_hub 2.5 publishes the two rerankers' identical weights to its
    // shared store, with its own code: the picture shows that file once, with both.
    const weights = crypto.createHash("sha256").update(Buffer.alloc(1_500_000, 1)).digest("hex");
    for (const name of ["rr-a", "rr-b"]) {
      execFileSync(path.join(root, "target/venv/bin/python"), [path.join(root, "tests/py/shared_store.py"), "publish", cache(), `models--acme--${name}`, weights]);
    }
    await browser.execute(() => window.scrollTo(0, 0));
    await $("button=Disk").click();
    const disk = $('[data-testid="disk"]');
    await disk.waitForExist({ timeout: 5000 });
    const part = disk.$('button[aria-label^="acme/rr-a,"]');
    await part.waitForExist({ timeout: 10000 });
    await expect(disk).toHaveText(expect.stringContaining("The cache takes"));
    const shared = disk.$('[data-testid="shared-file"]');
    await shared.waitForExist({ timeout: 10000 });
    await expect(shared).toHaveText("1.50 MB shared by acme/rr-a, acme/rr-b");
    await expect(disk.$('button[aria-label="shared by acme/rr-a, acme/rr-b, 1.50 MB"]')).toBeExisting();
    await expect(row("acme/rr-a")).toHaveAttribute("data-state", "downloaded");
    await shot("14-disk");
    await checkAccessibility("disk");
    await part.click();
    await expect($('input[type="search"]')).toHaveValue("acme/rr-a");
    await expect($$('[data-testid="model-row"]')).toBeElementsArrayOfSize(1);
    await browser.execute(() => {
      const search = document.querySelector('input[type="search"]');
      search.value = "";
      search.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await $("button=Disk").click();
  });
  it("exports a model from its row through the save dialog, and Import… through the open dialog brings it back, the list following", async () => {
    const archive = path.join(path.dirname(cache()), "fromoutside.tar");
    await answerDialogs({ "plugin:dialog|save": archive, "plugin:dialog|open": archive });
    await row("acme/fromoutside").$('button[data-action="export"]').click();
    const exported = await notice(/^Exported 1 model to .*fromoutside\.tar \([\d.]+ [kMG]?B\), every file checked\./);
    expect(exported).toContain(archive);
    // tar, with no tool of ours, reads it as the cache layout.
    expect(execFileSync("tar", ["-tf", archive]).toString()).toContain("models--acme--fromoutside/blobs/");

    fs.rmSync(path.join(cache(), "models--acme--fromoutside"), { recursive: true });
    await row("acme/fromoutside").waitForExist({ reverse: true, timeout: 10000 });
    await $("button=Import…").click();
    await notice(/^Imported 1 model: 1 file added \(.*\), 0 already there\./);
    await row("acme/fromoutside").waitForExist({ timeout: 10000 });
    await expect(row("acme/fromoutside")).toHaveAttribute("data-state", "downloaded", { wait: 10000 });
    expect(fs.existsSync(path.join(cache(), "models--acme--fromoutside", "refs", "main"))).toBe(true);
    await row("acme/fromoutside").scrollIntoView({ block: "center" });
    await shot("17-imported");
  });

  it("moves the cache to another folder, leaving a link where HF_HUB_CACHE points, and the list follows", async () => {
    const dest = path.join(path.dirname(cache()), "moved", "hub");
    const before = (await $$('[data-testid="model-row"]')).length;
    await $("button=Settings").click();
    await $("button=Move the cache…").click();
    const dialog = $('[role="dialog"][aria-labelledby="move-title"]');
    await dialog.waitForExist({ timeout: 5000 });
    await expect(dialog.$('[data-testid="move-variable"]')).toHaveText(expect.stringContaining("HF_HUB_CACHE chooses the cache's place"));
    await $("#move-dest").setValue(dest);
    await browser.keys("Tab");
    await dialog.$('[role="alert"]').waitForExist({ timeout: 5000 });
    await expect(dialog.$('[role="alert"]')).toHaveText(expect.stringContaining("--leave-symlink"));
    await dialog.$("label.check input").click();
    await dialog.$('[data-testid="move-plan"]').waitForExist({ timeout: 5000 });
    await expect(dialog.$('[data-testid="move-plan"]')).toHaveText(expect.stringContaining("one rename"));
    await shot("15-move-plan");
    await checkAccessibility("move");
    await dialog.$("button=Move").click();
    await dialog.$('[data-testid="move-status"]').waitForExist({ timeout: 10000 });
    await browser.waitUntil(async () => (await dialog.$('[data-testid="move-status"]').getText()).startsWith("Done"), { timeout: 20000 });
    await shot("16-moved");
    // On disk: every repo at DEST, and the old path a link to it.
    expect(fs.readlinkSync(cache())).toBe(dest);
    expect(fs.readdirSync(dest).filter((n) => n.startsWith("models--")).length).toBeGreaterThan(3);
    await dialog.$("button=Close").click();
    await $("button=Close").click();
    // The list follows: the same models, read through the new place.
    await browser.waitUntil(async () => (await $$('[data-testid="model-row"]')).length === before, { timeout: 10000 });
  });
});
