// Sizes in decimal units, as the hub and `haid-models` show them.
const UNITS = ["B", "kB", "MB", "GB", "TB"];

export function size(bytes: number): string {
  let n = bytes;
  let unit = 0;
  while (n >= 1000 && unit < UNITS.length - 1) {
    n /= 1000;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${UNITS[unit]}`;
}

/** `1 file`, `2 files`: a count with its noun (English plurals with -s). */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

export function eta(seconds: number | null): string {
  if (seconds === null) return "";
  if (seconds < 60) return `${seconds} s left`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min left`;
  return `${(seconds / 3600).toFixed(1)} h left`;
}

export const STATE_LABEL: Record<string, string> = {
  downloaded: "Downloaded",
  partial: "Partial",
  not_downloaded: "Not downloaded",
  downloading: "Downloading",
  corrupt: "Corrupt",
};

export function groupTitle(type: string): string {
  if (type === "other") return "Other models in the cache";
  return type.charAt(0).toUpperCase() + type.slice(1);
}

/** A "Get all" in one line: models ready of all, percent, speed and time left. */
export function sumText(p: { bytes: number; total: number; speed: number; eta_seconds: number | null; models_ready: number; models: number } | null): string {
  if (!p) return "Getting the models…";
  const percent = p.total > 0 ? Math.floor((p.bytes / p.total) * 100) : 0;
  const flow = p.speed > 0 ? ` · ${size(p.speed)}/s ${eta(p.eta_seconds)}` : "";
  return `Getting ${p.models_ready} of ${p.models} · ${percent}%${flow}`;
}
