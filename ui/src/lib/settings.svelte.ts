// The settings form: what the native side reports, the fields being edited,
// and the save. The token is write-only: it is never read back.
import * as api from "./api";
import type { SettingsView } from "./generated";

export class SettingsForm {
  view = $state.raw<SettingsView | null>(null);
  cacheDir = $state("");
  endpoint = $state("");
  concurrency = $state(2);
  token = $state("");
  checkUpdates = $state(true);
  /** The budget in GB as typed; empty is off. */
  keepUnderGb = $state("");
  keepUnderAuto = $state(false);
  /** The speed limit in MB/s as typed; empty is none. */
  limitMbps = $state("");
  message = $state<string | null>(null);
  error = $state<string | null>(null);

  private show(v: SettingsView) {
    this.view = v;
    this.cacheDir = v.cache_dir;
    this.endpoint = v.endpoint;
    this.concurrency = v.concurrency;
    this.checkUpdates = v.check_updates;
    this.keepUnderGb = v.keep_under === null ? "" : String(v.keep_under / 1e9);
    this.keepUnderAuto = v.keep_under_auto;
    this.limitMbps = v.limit_rate ? String(v.limit_rate / 2 ** 20) : "";
    this.token = "";
  }

  /** Asks the hub now whether models moved upstream; the rows follow (`updates-changed`). */
  checkNow = async () => {
    this.error = null;
    this.message = "Asking the hub…";
    try {
      const r = await api.checkUpdates();
      const n = r.models.length;
      const ids = r.unchecked.map((u) => u.id);
      const named = ids.length > 3 ? `${ids.slice(0, 3).join(", ")} and ${ids.length - 3} more` : ids.join(", ");
      const unchecked = ids.length > 0 ? ` ${ids.length} could not be checked (not on the hub, or unreachable): ${named}.` : "";
      this.message = (n === 0 ? "Every model is up to date." : n === 1 ? "1 model has an update." : `${n} models have an update.`) + unchecked;
    } catch (e) {
      this.message = null;
      this.error = api.errorMessage(e);
    }
  };

  load = () =>
    api.getSettings().then(
      (v) => this.show(v),
      (e) => (this.error = api.errorMessage(e)),
    );

  save = async () => {
    const view = this.view;
    if (!view) return;
    this.error = null;
    const moved = !view.cache_dir_forced_by && this.cacheDir !== view.cache_dir;
    try {
      this.show(
        await api.setSettings({
          cacheDir: view.cache_dir_forced_by || this.cacheDir === view.cache_dir ? undefined : this.cacheDir,
          endpoint: view.endpoint_forced ? undefined : this.endpoint,
          concurrency: this.concurrency,
          token: this.token || undefined,
          // Offline, the check is off whatever is saved: the box then says nothing new.
          checkUpdates: view.offline ? undefined : this.checkUpdates,
          // Empty (or 0) turns the budget off.
          keepUnder: Math.round((Number(this.keepUnderGb) || 0) * 1e9),
          keepUnderAuto: this.keepUnderAuto,
          // MiB/s, as the tray's choices and curl count; empty (or 0) is no limit.
          limitRate: Math.round((Number(this.limitMbps) || 0) * 2 ** 20),
        }),
      );
      this.message = moved
        ? "Saved. The new cache location applies when you restart HAID Models; the rest applies now."
        : "Saved and applied to the downloads you start from now on.";
    } catch (e) {
      this.error = api.errorMessage(e);
    }
  };
}
