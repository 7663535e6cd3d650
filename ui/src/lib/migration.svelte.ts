// The migration of the old per-service folders: the plan, then the progress
// of the run and what each model's move left behind.
import * as api from "./api";
import type { MigrateEvent, ModelOutcome, MigrationPlan } from "./generated";

export class Migration {
  plan = $state.raw<MigrationPlan | null>(null);
  running = $state(false);
  current = $state<string | null>(null);
  done = $state(0);
  bytesDone = $state(0);
  outcomes = $state.raw<ModelOutcome[]>([]);
  error = $state<string | null>(null);
  dismissed = $state(false);

  readonly total = $derived(this.plan?.models.reduce((n, m) => n + m.bytes, 0) ?? 0);
  readonly percent = $derived(this.total > 0 ? Math.min(100, Math.round((this.bytesDone / this.total) * 100)) : 0);
  /** Worth showing: there is something to move and the user has not said "not now". */
  readonly offered = $derived(!!this.plan && this.plan.models.length > 0 && !this.dismissed);

  /** `onDone` gets the sentence to show when every model was moved. */
  constructor(private readonly onDone: (message: string) => void) {}

  load = () =>
    api.migrationPlan().then(
      (p) => (this.plan = p),
      () => (this.plan = null), // no old folder to read: nothing to offer
    );

  private track = (e: MigrateEvent) => {
    if (e.event === "started") this.current = e.repo_id;
    if (e.event === "file") this.bytesDone += e.bytes;
    if (e.event === "model") this.done += 1;
  };

  start = async () => {
    this.running = true;
    this.error = null;
    try {
      const outcomes = await api.migrate(this.track);
      this.outcomes = outcomes;
      if (outcomes.every((o) => o.source_removed)) {
        const what = outcomes.length === 1 ? `${outcomes[0].repo_id} was` : `${outcomes.length} models were`;
        this.onDone(`${what} moved into the cache; nothing was downloaded.`);
        this.dismissed = true;
      }
    } catch (e) {
      this.error = api.errorMessage(e);
    } finally {
      this.running = false;
      this.current = null;
    }
  };
}
