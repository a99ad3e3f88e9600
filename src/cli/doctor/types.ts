/** What one `eddy doctor` check found. */
export const CheckStatus = { OK: "ok", WARN: "warn", FAIL: "fail", SKIP: "skip" } as const;
export type CheckStatus = (typeof CheckStatus)[keyof typeof CheckStatus];

export interface CheckResult {
  /** Short name shown in the first column: "config", "data dir", "listener http". */
  name: string;
  status: CheckStatus;
  /** One line on what was found. */
  summary: string;
  /** What to do about it (for warn and fail). */
  fix?: string;
}

export interface DoctorThresholds {
  /** Warn when free disk space is below this (or below 4 × min_free_disk_bytes, whichever is larger). */
  diskWarnBytes: number;
  /** How many 4 KiB writes + fdatasync to time. */
  fsyncSamples: number;
  /** Warn when the median fdatasync takes longer (ms). */
  fsyncWarnP50Ms: number;
  /** Warn when the 99th percentile takes longer (ms). */
  fsyncWarnP99Ms: number;
  /** How long to wait for a broker's /health on a busy port (ms). */
  probeTimeoutMs: number;
}

export const DEFAULT_THRESHOLDS: DoctorThresholds = {
  diskWarnBytes: 1024 ** 3,
  fsyncSamples: 20,
  // An SSD or a VM disk: p50 well under 1 ms. eMMC/SD cards: 10-100 × slower.
  fsyncWarnP50Ms: 10,
  fsyncWarnP99Ms: 50,
  probeTimeoutMs: 1500,
};
