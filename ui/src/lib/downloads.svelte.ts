// Downloads: the progress of each running one, whether the page started it
// or the tray did (resumed downloads arrive as app events).
import * as api from "./api";
import type { Messages } from "./messages.svelte";
import type { Models } from "./models.svelte";
import { size } from "./format";
import type { DownloadEvent, Outdated, OutdatedReport, SyncProgress } from "./generated";

/** What a row shows of a download: the numbers of its latest `progress` event. */
export type Progress = Pick<Extract<DownloadEvent, { event: "progress" }>, "bytes" | "total" | "speed" | "eta_seconds">;

export class Downloads {
  progress = $state<Record<string, Progress>>({});

  constructor(
    private readonly models: Models,
    private readonly messages: Messages,
  ) {}

  track = (e: DownloadEvent) => {
    if (e.event === "progress") this.progress[e.repo_id] = { bytes: e.bytes, total: e.total, speed: e.speed, eta_seconds: e.eta_seconds };
    if (e.event === "done") delete this.progress[e.repo_id];
  };

  start = async (id: string) => {
    this.messages.error = null;
    this.progress[id] = { bytes: 0, total: 0, speed: 0, eta_seconds: null };
    try {
      await api.downloadModel(id, this.track);
      this.messages.say(`${id} downloaded.`);
    } catch (e) {
      this.messages.fail(e);
    } finally {
      delete this.progress[id];
      await this.models.refresh();
    }
  };

  cancel = (id: string) => api.cancelDownload(id).catch(this.messages.fail);

  /** "Get all" running: for the whole manifest (`"all"`) or one type, with its summed progress. */
  getting = $state<string | null>(null);
  sum = $state.raw<SyncProgress | null>(null);

  /** Downloads everything the manifest (or one type of it) still needs. */
  getAll = async (modelType: string | null) => {
    if (this.getting) return;
    this.messages.error = null;
    this.getting = modelType ?? "all";
    this.sum = null;
    try {
      const report = await api.syncModels(modelType, (e) => {
        if (e.event === "sync_progress") this.sum = e;
      });
      const failed = report.models.filter((m) => m.error);
      if (failed.length === 0) this.messages.say(`${report.ready} of ${report.models.length} models ready.`);
      else this.messages.error = `${report.ready} of ${report.models.length} models ready. Not ready: ${failed.map((m) => `${m.id} (${m.error?.message})`).join("; ")}`;
    } catch (e) {
      this.messages.fail(e);
    } finally {
      this.getting = null;
      this.sum = null;
      await this.models.refresh();
    }
  };

  /** Models whose branch moved upstream, by id (the last update check). */
  updates = $state.raw<Record<string, Outdated>>({});

  showUpdates = (report: OutdatedReport) => {
    this.updates = Object.fromEntries(report.models.map((m) => [m.id, m]));
  };

  /** Fetches a model's new commit: only the files that changed. */
  update = async (id: string) => {
    this.messages.error = null;
    this.progress[id] = { bytes: 0, total: 0, speed: 0, eta_seconds: null };
    try {
      const old = await api.updateModel(id, this.track);
      const left = old.prunable_bytes > 0 ? ` The old revision stays until Prune frees ${size(old.prunable_bytes)}.` : "";
      this.messages.say(`${id} updated.${left}`);
    } catch (e) {
      this.messages.fail(e);
    } finally {
      delete this.progress[id];
      await this.models.refresh();
    }
  };
}
