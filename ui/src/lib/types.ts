// The JSON shapes of the native side (crates/core), as `haid-models list --json` prints them.

export type ModelState = "downloaded" | "partial" | "not_downloaded" | "downloading" | "corrupt";

export interface ModelStatus {
  id: string;
  name: string;
  team: string;
  dimensions: number | null;
  size_mb: number | null;
  link: string | null;
  state: ModelState;
  size_on_disk: number;
  path: string | null;
}

export interface StatusGroup {
  type: string;
  models: ModelStatus[];
}

export interface ModelList {
  cache_dir: string;
  size_on_disk: number;
  groups: StatusGroup[];
  warnings: { path: string; message: string }[];
}

export interface CacheInfo {
  cache_dir: string;
  source: string;
  free_bytes: number | null;
}

export interface Progress {
  bytes: number;
  total: number;
  speed: number;
  eta_seconds: number | null;
}

/** Events of a download, as the native side streams them. */
export type DownloadEvent =
  | { event: "resolved"; repo_id: string; total_bytes: number; present_bytes: number }
  | ({ event: "progress"; repo_id: string } & Progress)
  | { event: "retrying"; repo_id: string; path: string; message: string }
  | { event: "waiting"; repo_id: string; path: string; reason: string }
  | { event: "file_done"; repo_id: string; path: string; size: number }
  | { event: "done"; repo_id: string; size_on_disk: number };

export interface DeletePlan {
  repo_id: string;
  whole_repo: boolean;
  freed_bytes: number;
  deleted: string[];
}

/** The one error shape every command rejects with. */
export interface AppError {
  kind: string;
  message: string;
}

/** The settings as the native side shows them: the token itself never comes back. */
export interface SettingsView {
  cache_dir: string;
  source: string;
  cache_dir_forced_by: string | null;
  endpoint: string;
  endpoint_forced: boolean;
  concurrency: number;
  token_set: boolean;
  settings_file: string;
}

/** One model the migration of the old folders would move into the cache. */
export interface MigrationItem {
  repo_id: string;
  layout: "hf_cache" | "folder";
  source: string;
  target: string;
  bytes: number;
  files: number;
  method: "move" | "copy";
}

export interface MigrationPlan {
  from: string;
  cache_dir: string;
  models: MigrationItem[];
}

export interface MigrationOutcome {
  repo_id: string;
  files: number;
  bytes: number;
  local_commit: boolean;
  problems: { path: string; reason: string }[];
  source_removed: boolean;
  advice: string | null;
}

/** Events of a migration, as the native side streams them. */
export type MigrateEvent =
  | { event: "started"; repo_id: string; bytes: number; files: number }
  | { event: "file"; repo_id: string; path: string; bytes: number }
  | ({ event: "model"; error: string | null } & MigrationOutcome);

export interface SettingsUpdate {
  cacheDir?: string;
  endpoint?: string;
  concurrency?: number;
  token?: string;
}
