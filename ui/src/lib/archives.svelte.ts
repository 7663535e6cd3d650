// Export and import: the file chosen (the system's dialogs, or a file
// dropped on the window), then the work with its progress. One at a time;
// the outcome goes to the page's messages, and the list follows an import
// by itself (`cache-changed`).
import * as api from "./api";
import { count, size } from "./format";
import type { ArchiveEvent, ImportReport } from "./generated";
import type { Messages } from "./messages.svelte";

export interface ArchiveTask {
  what: string;
  done: number;
  total: number;
  current: string | null;
}

export class Archives {
  task = $state.raw<ArchiveTask | null>(null);

  constructor(private readonly messages: Messages) {}

  private follow = (e: ArchiveEvent) => {
    if (!this.task) return;
    if (e.event === "progress") this.task = { ...this.task, done: e.bytes_done, total: e.bytes_total };
    else this.task = { ...this.task, current: e.repo_id };
  };

  /** "Export…" on a row (`ids` one model) or for the manifest (`ids` empty, `manifest` true). */
  exportModels = async (ids: string[], manifest: boolean) => {
    if (this.task) return;
    const name = manifest ? "models.tar" : `${ids[0].replace("/", "--")}.tar`;
    const file = await api.pickSaveArchive(name).catch((e) => (this.messages.fail(e), null));
    if (!file) return;
    this.task = { what: manifest ? "Exporting the manifest's models" : `Exporting ${ids[0]}`, done: 0, total: 0, current: null };
    try {
      const r = await api.exportModels(ids, manifest, file, this.follow);
      this.messages.say(`Exported ${count(r.models.length, "model")} to ${r.file} (${size(r.archive_bytes)}), every file checked.`);
    } catch (e) {
      this.messages.fail(e);
    } finally {
      this.task = null;
    }
  };

  /** "Import…", or a dropped file: `file` when known, else the open dialog. */
  importFile = async (file?: string) => {
    if (this.task) return;
    const path = file ?? (await api.pickArchive().catch((e) => (this.messages.fail(e), null)));
    if (!path) return;
    this.task = { what: `Importing ${path.split(/[\\/]/).pop()}`, done: 0, total: 0, current: null };
    try {
      this.say(await api.importArchive(path, this.follow));
    } catch (e) {
      this.messages.fail(e);
    } finally {
      this.task = null;
    }
  };

  /** Files dropped on the window: the archives among them are imported. */
  dropped = (paths: string[]) => {
    const archive = paths.find((p) => p.toLowerCase().endsWith(".tar"));
    if (archive) this.importFile(archive);
    else if (paths.length > 0) this.messages.fail("Only model archives (.tar, from Export) can be dropped here.");
  };

  private say(r: ImportReport) {
    const added = `Imported ${count(r.models.length, "model")}: ${count(r.blobs_added, "file")} added (${size(r.bytes_written)}), ${r.blobs_present} already there.`;
    const bad = [...r.refused.map((x) => `${x.path}: ${x.reason}`), ...r.damaged.map((x) => `${x.path}: ${x.reason}`)];
    if (bad.length === 0) {
      this.messages.say(added);
      return;
    }
    const shown = bad.slice(0, 3).join("; ") + (bad.length > 3 ? `; and ${bad.length - 3} more` : "");
    this.messages.fail(`${added} Not imported: ${shown}.`);
  }
}
