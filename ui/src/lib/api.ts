// Every call to the native side lives here: components never talk to Tauri.
import { Channel, invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { open, save } from "@tauri-apps/plugin-dialog";
import type {
  ArchiveEvent,
  ExportReport,
  ImportReport,
  ErrorReport,
  CacheInfo,
  DeletePlan,
  DownloadEvent,
  MigrateEvent,
  ModelOutcome,
  MigrationPlan,
  ModelList,
  MoveEvent,
  MovePlan,
  MoveReport,
  SettingsUpdate,
  BudgetPlan,
  OldRevision,
  SpaceReport,
  OutdatedReport,
  SettingsView,
  SyncEvent,
  SyncReport,
  VerifyReport,
} from "./generated";

export const listModels = () => invoke<ModelList>("list_models");
export const cacheInfo = () => invoke<CacheInfo>("cache_info");
export const deletePlan = (id: string) => invoke<DeletePlan>("delete_plan", { id });
export const deleteModel = (id: string) => invoke<DeletePlan>("delete_model", { id });
export const cancelDownload = (id: string) => invoke<boolean>("cancel_download", { id });
export const openFolder = (path: string) => invoke<void>("open_folder", { path });
export const addModel = (id: string, modelType: string) => invoke<string>("add_model", { id, modelType });
export const getSettings = () => invoke<SettingsView>("get_settings");
export const setSettings = (update: SettingsUpdate) => invoke<SettingsView>("set_settings", { update });
export const uiReady = () => invoke<void>("ui_ready");
export const verifyModel = (id: string) => invoke<VerifyReport>("verify_model", { id });

/** Starts a download; `onEvent` receives its progress until it ends. */
export function downloadModel(id: string, onEvent: (e: DownloadEvent) => void): Promise<void> {
  const channel = new Channel<DownloadEvent>();
  channel.onmessage = onEvent;
  return invoke<void>("download_model", { id, onEvent: channel });
}

/** "Get all": every manifest model of `modelType` (all types when null) at its revision and file set. */
export function syncModels(modelType: string | null, onEvent: (e: SyncEvent) => void): Promise<SyncReport> {
  const channel = new Channel<SyncEvent>();
  channel.onmessage = onEvent;
  return invoke<SyncReport>("sync_models", { modelType, onEvent: channel });
}

/** The last update check (empty before the first). */
export const updates = () => invoke<OutdatedReport>("updates");
export const checkUpdates = () => invoke<OutdatedReport>("check_updates");

/** Updates a model (only its changed files); `onEvent` receives its progress. */
export function updateModel(id: string, onEvent: (e: DownloadEvent) => void): Promise<OldRevision> {
  const channel = new Channel<DownloadEvent>();
  channel.onmessage = onEvent;
  return invoke<OldRevision>("update_model", { id, onEvent: channel });
}

/** Each update check's answer, the background's included. */
export function onUpdatesChanged(callback: (r: OutdatedReport) => void): Promise<UnlistenFn> {
  return listen<OutdatedReport>("updates-changed", (e) => callback(e.payload));
}

/** Where the space goes: the disk picture. */
export const spaceReport = () => invoke<SpaceReport>("space_report");
/** Empties $HF_HOME/xet; the bytes freed. */
export const clearXet = () => invoke<number>("clear_xet");
/** The budget's plan while the cache is over it (else null). */
export const budgetPlan = () => invoke<BudgetPlan | null>("budget_plan");
export const applyBudget = () => invoke<BudgetPlan | null>("apply_budget");

/** The system's folder picker; null when the user closed it. */
export const pickFolder = (title: string) => open({ directory: true, multiple: false, title });

/** The system's save dialog for an archive; null when the user closed it. */
export const pickSaveArchive = (name: string) =>
  save({ title: "Export to…", defaultPath: name, filters: [{ name: "Model archive", extensions: ["tar"] }] });

/** The system's open dialog for an archive; null when the user closed it. */
export async function pickArchive(): Promise<string | null> {
  const picked = await open({ title: "Import models from…", multiple: false, filters: [{ name: "Model archive", extensions: ["tar"] }] });
  return typeof picked === "string" ? picked : null;
}

/** Writes `ids` (with `manifest`, every manifest model too) to `file`; `onEvent` receives the progress. */
export function exportModels(ids: string[], manifest: boolean, file: string, onEvent: (e: ArchiveEvent) => void): Promise<ExportReport> {
  const channel = new Channel<ArchiveEvent>();
  channel.onmessage = onEvent;
  return invoke<ExportReport>("export_models", { ids, manifest, file, onEvent: channel });
}

/** Reads an archive into the cache; `onEvent` receives the progress. */
export function importArchive(file: string, onEvent: (e: ArchiveEvent) => void): Promise<ImportReport> {
  const channel = new Channel<ArchiveEvent>();
  channel.onmessage = onEvent;
  return invoke<ImportReport>("import_archive", { file, onEvent: channel });
}

/** Files dropped on the window (their paths); nothing where the webview cannot tell (a test page). */
export async function onFilesDropped(callback: (paths: string[]) => void): Promise<UnlistenFn> {
  try {
    return await getCurrentWebview().onDragDropEvent((e) => {
      if (e.payload.type === "drop") callback(e.payload.paths);
    });
  } catch {
    return () => {};
  }
}

/** What moving the cache to `dest` would do (rejects with why it cannot). */
export const movePlan = (dest: string, leaveSymlink: boolean) => invoke<MovePlan>("move_plan", { dest, leaveSymlink });

/** Moves the cache; `onEvent` receives its progress. The app follows the new place. */
export function moveCache(dest: string, leaveSymlink: boolean, onEvent: (e: MoveEvent) => void): Promise<MoveReport> {
  const channel = new Channel<MoveEvent>();
  channel.onmessage = onEvent;
  return invoke<MoveReport>("move_cache", { dest, leaveSymlink, onEvent: channel });
}

export const migrationPlan = () => invoke<MigrationPlan>("migration_plan");

/** Migrates the old folders; `onEvent` receives its progress until it ends. */
export function migrate(onEvent: (e: MigrateEvent) => void): Promise<ModelOutcome[]> {
  const channel = new Channel<MigrateEvent>();
  channel.onmessage = onEvent;
  return invoke<ModelOutcome[]>("migrate", { onEvent: channel });
}

/** Progress of downloads the page did not start (resumed from the tray). */
export function onDownloadEvent(callback: (e: DownloadEvent) => void): Promise<UnlistenFn> {
  return listen<DownloadEvent>("download-event", (e) => callback(e.payload));
}

/** Called whenever the cache changes on disk, by this app or any other program. */
export function onCacheChanged(callback: () => void): Promise<UnlistenFn> {
  return listen("cache-changed", () => callback());
}

/** A readable message from whatever a command rejected with. */
export function errorMessage(e: unknown): string {
  if (e && typeof e === "object" && "message" in e) return String((e as ErrorReport).message);
  return String(e);
}
