// "Move the cache…": the folder chosen (by the system's picker or typed),
// the plan the native side makes for it (or why it refuses), then the move
// with its progress. The list follows the new place by itself: the native
// side sends `cache-changed` when the move is over.
import * as api from "./api";
import { size } from "./format";
import type { Messages } from "./messages.svelte";
import type { Models } from "./models.svelte";
import type { MovePlan, MoveReport } from "./generated";

export class CacheMove {
  open = $state(false);
  dest = $state("");
  /** Leave a link at the old path: needed when a variable chose the cache. */
  leaveSymlink = $state(false);
  /** The variable that chose the cache (HF_HOME, …), if one did. */
  forcedBy = $state<string | null>(null);
  plan = $state.raw<MovePlan | null>(null);
  error = $state<string | null>(null);
  running = $state(false);
  /** Bytes placed at the new place so far, of the total. */
  progress = $state.raw<{ done: number; total: number } | null>(null);
  report = $state.raw<MoveReport | null>(null);

  constructor(
    private readonly models: Models,
    private readonly messages: Messages,
  ) {}

  /** Opens the dialog; `forcedBy` is the settings' `cache_dir_forced_by`. */
  show = (forcedBy: string | null) => {
    this.open = true;
    this.forcedBy = forcedBy;
    this.leaveSymlink = false;
    this.dest = "";
    this.plan = null;
    this.error = null;
    this.progress = null;
    this.report = null;
  };

  /** Opens the dialog on the move that was cut short, ready to finish it. */
  finish = async (to: string) => {
    this.show(null);
    this.dest = to;
    await this.check();
  };

  close = () => {
    if (!this.running) this.open = false;
  };

  /** The system's folder picker, then the plan for what was picked. */
  choose = async () => {
    try {
      const picked = await api.pickFolder("Move the cache to…");
      if (typeof picked === "string") {
        this.dest = picked;
        await this.check();
      }
    } catch (e) {
      this.error = api.errorMessage(e);
    }
  };

  /** Asks the native side for the plan of moving to `dest`. */
  check = async () => {
    this.plan = null;
    this.error = null;
    if (!this.dest.trim()) return;
    try {
      this.plan = await api.movePlan(this.dest.trim(), this.leaveSymlink);
    } catch (e) {
      this.error = api.errorMessage(e);
    }
  };

  start = async () => {
    const plan = this.plan;
    if (!plan || this.running) return;
    this.running = true;
    this.error = null;
    this.progress = { done: 0, total: plan.bytes };
    try {
      this.report = await api.moveCache(plan.to, this.leaveSymlink, (e) => {
        if (e.event === "progress") this.progress = { done: e.bytes_done, total: e.bytes_total };
      });
      this.messages.say(`The cache is now in ${this.report.to} (${size(this.report.bytes)}).`);
    } catch (e) {
      this.error = api.errorMessage(e);
    } finally {
      this.running = false;
    }
    await this.models.refresh();
  };
}

/** What the plan does, in a sentence. */
export function describe(plan: MovePlan): string {
  const what = `${size(plan.bytes)} in ${plan.repos.length} ${plan.repos.length === 1 ? "repo" : "repos"} (${plan.files} files)`;
  const how =
    plan.method === "rename"
      ? plan.into_existing_cache
        ? "linked into the cache there (the same disk: nothing is copied)"
        : "moved in one rename (the same disk: nothing is copied)"
      : `copied to the other disk and checked file by file (${size(plan.bytes_to_copy)} to write), then removed here`;
  return `${what}, ${how}.`;
}
