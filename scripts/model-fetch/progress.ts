/**
 * @module
 * Download progress for a terminal and for logs. On a TTY one line is redrawn in place (bar, bytes, rate,
 * ETA, current file), at most every 100 ms; otherwise (systemd, CI, a pipe) a plain line is printed every
 * 10 s, so logs stay readable. The rate is measured over the last 10 s of new bytes only: bytes found
 * already on disk (a resumed run) count towards the total but not towards the speed.
 */

/** Where progress goes: `process.stderr` or a test double. */
export interface ProgressOutput {
  isTTY?: boolean
  columns?: number
  write(text: string): unknown
}

export interface ProgressOptions {
  /** Milliseconds clock, injectable for tests. */
  now?: () => number
}

const TTY_INTERVAL_MS = 100
const LOG_INTERVAL_MS = 10_000
const RATE_WINDOW_MS = 10_000
const BAR_WIDTH = 24

export class Progress {
  readonly #out: ProgressOutput
  readonly #now: () => number
  #total = 0
  #done = 0
  #downloaded = 0
  #file = ''
  #lastDraw = -Infinity
  #drawn = false
  /** `[time, downloaded bytes]` samples inside the rate window. */
  #samples: [number, number][] = []

  constructor(out: ProgressOutput, options: ProgressOptions = {}) {
    this.#out = out
    this.#now = options.now ?? Date.now
  }

  /** Sets the number of bytes the whole run covers. */
  setTotal(bytes: number): void {
    this.#total = bytes
  }

  /** A new file starts; `present` bytes of it are already on disk. */
  startFile(path: string, present: number): void {
    this.#file = path
    this.#done += present
    this.#draw(true)
  }

  /** Bytes just received. */
  add(bytes: number): void {
    this.#done += bytes
    this.#downloaded += bytes
    this.#draw(false)
  }

  /** Bytes counted before that turned out stale or corrupt and will be fetched again. */
  discard(bytes: number): void {
    this.#done = Math.max(0, this.#done - bytes)
  }

  /** A line of its own (file finished, a retry), printed above the bar. */
  note(message: string): void {
    this.#clear()
    this.#out.write(`${message}\n`)
    this.#draw(true)
  }

  /** Ends the bar line so later output starts on a fresh line. */
  finish(): void {
    if (this.#out.isTTY && this.#drawn) this.#out.write('\n')
    this.#drawn = false
  }

  /** Bytes per second over the rate window, or 0 before there are two samples. */
  rate(): number {
    const first = this.#samples[0]
    const last = this.#samples.at(-1)
    if (!first || !last || last[0] <= first[0]) return 0
    return ((last[1] - first[1]) * 1000) / (last[0] - first[0])
  }

  /** The status text (without bar), as the log lines print it. */
  status(): string {
    const rate = this.rate()
    const left = Math.max(0, this.#total - this.#done)
    const eta = rate > 0 ? formatDuration(left / rate) : '--:--'
    const percent = this.#total > 0 ? Math.floor((this.#done / this.#total) * 100) : 100
    return `${percent}% ${formatBytes(this.#done)} / ${formatBytes(this.#total)}  ${formatBytes(rate)}/s  ETA ${eta}`
  }

  #draw(force: boolean): void {
    const now = this.#now()
    this.#samples.push([now, this.#downloaded])
    while (this.#samples.length > 2 && now - this.#samples[0]![0] > RATE_WINDOW_MS) {
      this.#samples.shift()
    }
    const interval = this.#out.isTTY ? TTY_INTERVAL_MS : LOG_INTERVAL_MS
    if (!force && now - this.#lastDraw < interval) return
    this.#lastDraw = now
    if (!this.#out.isTTY) {
      if (!force) this.#out.write(`model:fetch ${this.status()}  ${this.#file}\n`)
      return
    }
    const filled = this.#total > 0 ? Math.round((this.#done / this.#total) * BAR_WIDTH) : BAR_WIDTH
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`
    const line = `${bar} ${this.status()}  ${this.#file}`
    this.#out.write(`\r\x1b[2K${line.slice(0, (this.#out.columns ?? 120) - 1)}`)
    this.#drawn = true
  }

  #clear(): void {
    if (this.#out.isTTY && this.#drawn) this.#out.write('\r\x1b[2K')
  }
}

/** `1536` → `1.50 KB` (powers of 1024, as `du -h` counts). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? Math.round(value) : value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`
}

/** Seconds → `m:ss`, or `h:mm:ss` from one hour. */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds))
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = String(total % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`
}
