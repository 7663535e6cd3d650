// A burst of calls (a download, another program unpacking a model) makes at
// most one run in flight and one after it, never one per call: the one after
// it is what sees the last change. The loop's last look at `again` and the
// end of `inFlight` are one step (the `finally` inside), so a call that
// arrives in between cannot be lost.
export function coalesce(run: () => Promise<void>): () => Promise<void> {
  let inFlight: Promise<void> | null = null;
  let again = false;
  return () => {
    if (inFlight) {
      again = true;
      return inFlight;
    }
    inFlight = (async () => {
      try {
        do {
          again = false;
          await run();
        } while (again);
      } finally {
        inFlight = null;
      }
    })();
    return inFlight;
  };
}
