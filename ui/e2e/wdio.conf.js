// End to end in the real webview: WebdriverIO → tauri-driver → WebKitWebDriver →
// the built app (frontend embedded), with the fake hub as its endpoint and a temp
// cache. Run it with `make test-e2e` (under xvfb-run and dbus-run-session).
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "haid-e2e-"));
export const e2e = {
  root,
  cache: path.join(work, "hub"),
  hubRoot: path.join(work, "hub-root"),
  oldData: path.join(work, "old-data"),
  shots: path.join(root, "target/e2e"),
};

let hub;
let driver;
// HAID_E2E_PORT moves tauri-driver (and WebKitWebDriver, one port up) off 4444, so a run can
// go beside another one (a benchmark's) on the same machine.
const port = Number(process.env.HAID_E2E_PORT || 4444);

function startHub() {
  const dir = path.join(e2e.hubRoot, "acme/demo");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "config.json"), '{"hidden_size": 8}');
  fs.writeFileSync(path.join(dir, "model.safetensors"), Buffer.alloc(12_000_000, 7));
  // A model the embedding service kept in its own folder: the hub has the same files.
  const legacy = path.join(e2e.hubRoot, "acme/legacy");
  const old = path.join(e2e.oldData, "embedding/models/acme/legacy");
  for (const dir of [legacy, old]) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "config.json"), '{"hidden_size": 4}');
    fs.writeFileSync(path.join(dir, "model.safetensors"), Buffer.alloc(3_000_000, 5));
  }
  // Two small models of their own type, for a group's "Get all" and an update. Their
  // weights are the same file, which huggingface_hub 2.5's store then keeps once.
  for (const [name, fill] of [["rr-a", 1], ["rr-b", 1]]) {
    const dir = path.join(e2e.hubRoot, "acme", name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "config.json"), '{"version": 1}');
    fs.writeFileSync(path.join(dir, "model.safetensors"), Buffer.alloc(1_500_000, fill));
  }
  hub = spawn(path.join(root, "target/debug/fake-hub"), ["--root", e2e.hubRoot, "--throttle-bps", "3000000"]);
  return new Promise((resolve) => hub.stdout.once("data", (d) => resolve(JSON.parse(String(d)).url)));
}

export const config = {
  host: "127.0.0.1",
  port,
  specs: ["./*.spec.js"],
  maxInstances: 1,
  capabilities: [{ maxInstances: 1, "tauri:options": { application: path.join(root, "target/debug/haid-models-desktop") } }],
  reporters: ["spec"],
  framework: "mocha",
  mochaOpts: { ui: "bdd", timeout: 120000 },
  logLevel: "warn",
  async onPrepare() {
    fs.mkdirSync(e2e.shots, { recursive: true });
    fs.mkdirSync(e2e.cache, { recursive: true });
    const manifest = path.join(work, "manifest.json");
    fs.writeFileSync(
      manifest,
      JSON.stringify({
        embedding: [{ id: "acme/demo", name: "Demo embedder", team: "acme", dimensions: 8, size_mb: 12 }],
        reranker: [
          { id: "acme/rr-a", name: "Reranker A", team: "acme", size_mb: 2 },
          { id: "acme/rr-b", name: "Reranker B", team: "acme", size_mb: 2 },
        ],
      }),
    );
    const url = await startHub();
    const env = { ...process.env, HF_HUB_CACHE: e2e.cache, HF_ENDPOINT: url, HAID_MODELS_MANIFEST: manifest, HAID_DATA_DIR: e2e.oldData, XDG_CONFIG_HOME: path.join(work, "config") };
    driver = spawn("tauri-driver", ["--port", String(port), "--native-port", String(port + 1)], { env, stdio: [null, process.stdout, process.stderr] });
    await new Promise((r) => setTimeout(r, 1500));
    process.env.HAID_E2E_CACHE = e2e.cache;
    process.env.HAID_E2E_HUB_URL = url;
    process.env.HAID_E2E_HUB_ROOT = e2e.hubRoot;
    process.env.HAID_E2E_OLD_DATA = e2e.oldData;
  },
  onComplete() {
    driver?.kill();
    hub?.kill();
    spawnSync("rm", ["-rf", work]);
  },
};
