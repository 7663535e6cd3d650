// The model list and the cache it comes from: loading, the filter, and the
// actions on one model that are not a download or a delete.
import * as api from "./api";
import { coalesce } from "./coalesce";
import type { Messages } from "./messages.svelte";
import type { CacheInfo, ModelList, StatusGroup } from "./generated";

/** The groups as the page shows them: only the models the query matches. */
export function filterGroups(list: ModelList | null, query: string): StatusGroup[] {
  const q = query.trim().toLowerCase();
  return (list?.groups ?? [])
    .map((g) => (q === "" ? g : { ...g, models: g.models.filter((m) => `${m.name} ${m.id} ${m.team}`.toLowerCase().includes(q)) }))
    .filter((g) => g.models.length > 0 || (g.type !== "other" && query === ""));
}

export class Models {
  // Raw, not deep state: a list is replaced whole on every load, and 2,000
  // models made deeply reactive would cost a proxy each for nothing.
  list = $state.raw<ModelList | null>(null);
  info = $state.raw<CacheInfo | null>(null);
  query = $state("");
  readonly groups = $derived(filterGroups(this.list, this.query));
  /** The types a model can be added to (not "other": that is what the cache holds beyond the manifest). */
  readonly types = $derived((this.list?.groups ?? []).map((g) => g.type).filter((t) => t !== "other"));

  constructor(private readonly messages: Messages) {}

  private async load() {
    try {
      [this.list, this.info] = await Promise.all([api.listModels(), api.cacheInfo()]);
    } catch (e) {
      this.messages.fail(e);
    }
  }

  /** Reads the list again; a burst of calls makes one read in flight and one after it. */
  refresh = coalesce(() => this.load());

  /** Adds a model to the manifest; true when it was added. */
  add = async (id: string, type: string): Promise<boolean> => {
    try {
      const added = await api.addModel(id, type);
      this.messages.say(`${added} added to ${type}.`);
      await this.refresh();
      return true;
    } catch (e) {
      this.messages.fail(e);
      return false;
    }
  };

  verify = async (id: string) => {
    try {
      const r = await api.verifyModel(id);
      this.messages.say(r.ok ? `${id}: all ${r.checked} files match their hashes.` : `${id}: some files are damaged; download it again.`);
    } catch (e) {
      this.messages.fail(e);
    }
  };

  open = (path: string) => api.openFolder(path).catch(this.messages.fail);
}
