// The page's state, one object per window: App.svelte creates it and puts it
// in the context, and each component takes the part it shows. One object per
// mounted App, not module-level singletons, so that every test (and every
// window) starts from nothing.
import { createContext } from "svelte";
import * as api from "./api";
import { Archives } from "./archives.svelte";
import { Dialogs } from "./dialogs.svelte";
import { Downloads } from "./downloads.svelte";
import { Messages } from "./messages.svelte";
import { Models } from "./models.svelte";
import { CacheMove } from "./relocation.svelte";
import { Space } from "./space.svelte";

export class Page {
  readonly messages = new Messages();
  readonly models = new Models(this.messages);
  readonly downloads = new Downloads(this.models, this.messages);
  readonly dialogs = new Dialogs(this.models, this.messages);
  readonly space = new Space(this.models, this.messages);
  readonly move = new CacheMove(this.models, this.messages);
  readonly archives = new Archives(this.messages);
  /** The sticky header's height: rows scrolled to by the keyboard must not land under it. */
  headerHeight = $state(0);

  /** Loads the list and follows the cache and the downloads; returns the teardown. */
  start(): () => void {
    // Once the first list is on screen (after the next paint), for the startup timing.
    this.models.refresh().then(() => afterPaint(() => api.uiReady().catch(() => {})));
    this.space.refresh();
    const listeners = [
      api.onCacheChanged(() => {
        this.models.refresh();
        this.space.refresh();
      }),
      api.onDownloadEvent(this.downloads.track),
      api.onUpdatesChanged(this.downloads.showUpdates),
      api.onFilesDropped(this.archives.dropped),
    ];
    // What the background check found before the page opened.
    api.updates().then((r) => r && this.downloads.showUpdates(r), () => {});
    return () => {
      // Teardown: a listener that cannot be removed any more is gone anyway.
      listeners.forEach((l) => l.then((f) => f()).catch(() => {}));
    };
  }
}

const afterPaint = (f: () => void) =>
  typeof requestAnimationFrame === "function" ? requestAnimationFrame(() => f()) : setTimeout(f, 0);

export const [usePage, providePage] = createContext<Page>();
