// The disk picture and the budget: what the cache and the HF home take, and,
// while the cache is over the budget the settings set, the plan to fit it.
// Read again whenever the list is (the cache changed).
import * as api from "./api";
import { coalesce } from "./coalesce";
import { size } from "./format";
import type { BudgetPlan, RepoSpace, SharedSpace, SpaceReport } from "./generated";
import type { Messages } from "./messages.svelte";
import type { Models } from "./models.svelte";

/** One part of the bar: a repo, the rest of a type, or the free space. */
export interface Part {
  key: string;
  label: string;
  bytes: number;
  /** The type it is coloured by (`unfinished` for unfinished downloads). */
  kind: string;
  /** What clicking it puts in the filter (nothing for the free space). */
  filter: string | null;
}

/** Repos shown one by one in the bar; the rest are summed by type. */
const EACH = 12;

/** What a repo holds alone: its size less the shared payloads it links to. */
const own = (r: RepoSpace) => r.size_on_disk - r.shared_bytes;

/** How a shared payload is named: by the models that share it. */
export function sharedLabel(s: SharedSpace): string {
  if (s.repos.length === 0) return "a shared file no model uses (prune frees it)";
  return `shared by ${s.repos.join(", ")}`;
}

/**
 * The cache bar's parts, biggest first: the manifest's models, then the
 * others, then the files huggingface_hub's shared store holds once for
 * several models (each shown once, with its sharers), then unfinished
 * downloads. So the bar adds up to what the disk really holds. (The free
 * space has a bar of its own: beside a disk's free space, the models would
 * be slivers.) Pure, so it is tested alone.
 */
export function parts(report: SpaceReport): Part[] {
  const byBytes = (a: RepoSpace, b: RepoSpace) => own(b) - own(a);
  const wanted = report.repos.filter((r) => r.in_manifest).sort(byBytes);
  const others = report.repos.filter((r) => !r.in_manifest).sort(byBytes);
  const out: Part[] = [];
  for (const group of [wanted, others]) {
    const shown = group.slice(0, EACH);
    for (const r of shown) out.push({ key: r.id, label: r.id, bytes: own(r), kind: r.type, filter: r.id });
    const rest = group.slice(EACH);
    if (rest.length > 0) {
      const kind = group === wanted ? "manifest" : "other";
      out.push({ key: `rest-${kind}`, label: `${rest.length} more`, bytes: rest.reduce((n, r) => n + own(r), 0), kind, filter: null });
    }
  }
  const shared = report.shared.slice(0, EACH);
  for (const s of shared) out.push({ key: `shared-${s.hash}`, label: sharedLabel(s), bytes: s.bytes, kind: "shared", filter: s.repos.length === 1 ? s.repos[0] : null });
  const rest = report.shared.slice(EACH);
  if (rest.length > 0) out.push({ key: "rest-shared", label: `${rest.length} more shared files`, bytes: rest.reduce((n, s) => n + s.bytes, 0), kind: "shared", filter: null });
  if (report.incomplete_bytes > 0) out.push({ key: "unfinished", label: "unfinished downloads", bytes: report.incomplete_bytes, kind: "unfinished", filter: null });
  return out;
}

export class Space {
  open = $state(false);
  report = $state.raw<SpaceReport | null>(null);
  budget = $state.raw<BudgetPlan | null>(null);
  readonly parts = $derived(this.report ? parts(this.report) : []);

  constructor(
    private readonly models: Models,
    private readonly messages: Messages,
  ) {}

  /** The budget always (a banner shows it), the picture while it is open; coalesced like the list. */
  refresh = coalesce(async () => {
    try {
      this.budget = await api.budgetPlan();
      if (this.open) this.report = await api.spaceReport();
    } catch (e) {
      this.messages.fail(e);
    }
  });

  toggle = async () => {
    this.open = !this.open;
    if (this.open) await this.refresh();
  };

  /** Clicking a part filters the list to it. */
  pick = (part: Part) => {
    if (part.filter !== null) this.models.query = part.filter;
  };

  clearXet = async () => {
    try {
      const freed = await api.clearXet();
      this.messages.say(`The xet cache was emptied; ${size(freed)} freed.`);
      await this.refresh();
    } catch (e) {
      this.messages.fail(e);
    }
  };

  applyBudget = async () => {
    try {
      const done = await api.applyBudget();
      const n = done?.repos.length ?? 0;
      if (done) this.messages.say(`${n} ${n === 1 ? "model" : "models"} removed; the cache takes ${size(done.size_after)} now.`);
      await this.models.refresh();
      await this.refresh();
    } catch (e) {
      this.messages.fail(e);
    }
  };
}
