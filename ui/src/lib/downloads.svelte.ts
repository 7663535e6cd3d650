// Downloads: the progress of each running one, whether the page started it
// or the tray did (resumed downloads arrive as app events).
import * as api from "./api";
import type { Messages } from "./messages.svelte";
import type { Models } from "./models.svelte";
import type { DownloadEvent } from "./generated";

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
}
