// What is open over or beside the list: the delete confirmation and the
// settings panel. Focus goes back where it was when a dialog closes.
import * as api from "./api";
import { size } from "./format";
import type { Messages } from "./messages.svelte";
import type { Models } from "./models.svelte";
import type { DeletePlan } from "./generated";

export class Dialogs {
  /** The delete waiting for a yes or no, with what it would free. */
  confirm = $state.raw<DeletePlan | null>(null);
  settingsOpen = $state(false);
  private returnFocus: HTMLElement | null = null;

  constructor(
    private readonly models: Models,
    private readonly messages: Messages,
  ) {}

  askDelete = async (id: string) => {
    const from = document.activeElement;
    try {
      this.confirm = await api.deletePlan(id);
      this.returnFocus = from instanceof HTMLElement ? from : null;
    } catch (e) {
      this.messages.fail(e);
    }
  };

  keep = () => {
    this.confirm = null;
    this.restoreFocus();
  };

  delete = async () => {
    if (!this.confirm) return;
    const id = this.confirm.repo_id;
    this.confirm = null;
    try {
      const done = await api.deleteModel(id);
      this.messages.say(`${id} deleted; ${size(done.freed_bytes)} freed.`);
    } catch (e) {
      this.messages.fail(e);
    }
    await this.models.refresh();
    this.restoreFocus();
  };

  toggleSettings = () => {
    this.settingsOpen = !this.settingsOpen;
  };

  closeSettings = () => {
    this.settingsOpen = false;
  };

  // The button that opened the dialog, if it is still on the page (a deleted
  // model of the "other" group leaves the list with its row).
  private restoreFocus() {
    if (this.returnFocus?.isConnected) this.returnFocus.focus();
    this.returnFocus = null;
  }
}
