/**
 * @module
 * What a request's scopes have used, as the ledger read it in one query per table: each stored limit
 * window and each scope's open holds. The admission decision, the admit that follows it and the
 * rate-limit snapshot all work on this one read. Reading each window where it was needed took about 40
 * SQL statements per reservation, each a round trip into SQLite, on the way to every first token.
 * Synchronous like the ledger, so nothing can change the stored state between the read and the admit.
 */
import { TOKEN_FIELDS, currentWindow } from '../budget/windows.ts'
import type { Window, WindowField } from '../budget/windows.ts'
import type { LimitState, RateSnapshot } from './limiter-types.ts'
import type { Scope } from './ledger.ts'

export interface Usage {
  used: number
  window: Window
}

/** One row of the `windows` table. */
export interface StoredWindow {
  start: number
  used: number
}

const windowKey = (scope: string, field: WindowField) => `${scope}\n${field}`

export class ScopeUsage {
  readonly #windows: Map<string, StoredWindow>
  readonly #holds: Map<string, number>

  constructor(
    windows: Iterable<{ scope: string; field: WindowField } & StoredWindow>,
    holds: Iterable<{ scope: string; n: number }>,
  ) {
    this.#windows = new Map()
    for (const row of windows) {
      this.#windows.set(windowKey(row.scope, row.field), { start: row.start, used: row.used })
    }
    this.#holds = new Map(Array.from(holds, (row) => [row.scope, row.n]))
  }

  /** Use of `field` in `scope` in the window `now` falls in (0 in a window that has not opened yet). */
  usage(scope: string, field: WindowField, now: number): Usage {
    const stored = this.#windows.get(windowKey(scope, field))
    const window = currentWindow(field, stored?.start ?? null, now)
    return { used: stored && stored.start === window.start ? stored.used : 0, window }
  }

  /** Open reservations holding a concurrency slot of `scope`. */
  active(scope: string): number {
    return this.#holds.get(scope) ?? 0
  }

  /**
   * Adds `amount` to the current window (opening a new one if needed) and returns the row to store.
   * The ledger writes it; this copy stays in step, so a snapshot after the admit needs no read.
   */
  add(scope: string, field: WindowField, amount: number, now: number): StoredWindow {
    const { used, window } = this.usage(scope, field, now)
    const row = { start: window.start, used: used + amount }
    this.#windows.set(windowKey(scope, field), row)
    return row
  }

  /** One more open reservation in `scope`. */
  hold(scope: string): void {
    this.#holds.set(scope, this.active(scope) + 1)
  }

  /** The tightest request, token and budget state across `scopes`, for the response headers. */
  snapshot(scopes: Scope[], now: number): RateSnapshot {
    const snapshot: RateSnapshot = {}
    for (const scope of scopes) {
      for (const field of ['rpm', ...TOKEN_FIELDS] as const) {
        const limit = scope.limits[field]
        if (limit === undefined) continue
        const { used, window } = this.usage(scope.id, field, now)
        const state: LimitState = {
          limit,
          remaining: Math.max(0, limit - used),
          resetMs: used > 0 ? window.end - now : 0,
        }
        const family = field === 'rpm' ? 'requests' : field === 'tpm' ? 'tokens' : 'budget'
        snapshot[family] = tighter(snapshot[family], state)
      }
    }
    return snapshot
  }
}

/** The state that runs out first (fewer remaining; on a tie, the later reset). */
function tighter(current: LimitState | undefined, next: LimitState): LimitState {
  if (!current) return next
  if (next.remaining !== current.remaining)
    return next.remaining < current.remaining ? next : current
  return next.resetMs > current.resetMs ? next : current
}
