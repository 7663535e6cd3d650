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
  message = $state<string | null>(null);
  error = $state<string | null>(null);

  private show(v: SettingsView) {
    this.view = v;
    this.cacheDir = v.cache_dir;
    this.endpoint = v.endpoint;
    this.concurrency = v.concurrency;
    this.token = "";
  }

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
