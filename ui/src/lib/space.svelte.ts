// The disk picture and the budget: what the cache and the HF home take, and,
// while the cache is over the budget the settings set, the plan to fit it.
// Read again whenever the list is (the cache changed).
import * as api from "./api";
import { coalesce } from "./coalesce";
import { size } from "./format";
import type { BudgetPlan, RepoSpace, SpaceReport } from "./generated";
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

/**
 * The cache bar's parts, biggest first: the manifest's models, then the
 * others, then unfinished downloads. (The free space has a bar of its own:
 * beside a disk's free space, the models would be slivers.) Pure, so it is
 * tested alone.
 */
export function parts(report: SpaceReport): Part[] {
  const byBytes = (a: RepoSpace, b: RepoSpace) => b.size_on_disk - a.size_on_disk;
  const wanted = report.repos.filter((r) => r.in_manifest).sort(byBytes);
  const others = report.repos.filter((r) => !r.in_manifest).sort(byBytes);
  const out: Part[] = [];
  for (const group of [wanted, others]) {
    const shown = group.slice(0, EACH);
    for (const r of shown) out.push({ key: r.id, label: r.id, bytes: r.size_on_disk, kind: r.type, filter: r.id });
    const rest = group.slice(EACH);
    if (rest.length > 0) {
      const kind = group === wanted ? "manifest" : "other";
      out.push({ key: `rest-${kind}`, label: `${rest.length} more`, bytes: rest.reduce((n, r) => n + r.size_on_disk, 0), kind, filter: null });
    }
  }
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
