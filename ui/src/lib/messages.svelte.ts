// The two banners under the header: the last error and the last notice.
import { errorMessage } from "./api";

export class Messages {
  error = $state<string | null>(null);
  notice = $state<string | null>(null);

  /** Shows whatever a command rejected with, as a readable line. */
  fail = (e: unknown) => {
    this.error = errorMessage(e);
  };

  say = (message: string) => {
    this.notice = message;
  };
}
