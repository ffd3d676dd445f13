/**
 * @module
 * The tenant's ledger in its Durable Object's SQLite: limit windows, open reservations and their holds.
 * Every method is synchronous (the SQL API of SQLite-backed Durable Objects is), so a check-and-reserve
 * runs without any other request interleaving: a burst can never admit more than a limit allows.
 */
import type { Limits } from '../tenancy/limits.ts'
import { ROLLING_WINDOW_MS, TOKEN_FIELDS, currentWindow } from '../budget/windows.ts'
import type { WindowField } from '../budget/windows.ts'
import type { ScopeKind } from './limiter-types.ts'
import { ScopeUsage } from './scope-usage.ts'

/** One limit set applied to a request: the tenant's, the key's or the end user's. */
export interface Scope {
  /** Storage key: `tenant`, `key:<id>`, `user:<user>`. */
  id: string
  kind: ScopeKind
  limits: Limits
}

/** What a reservation took from one window, so settling can give back exactly that. */
export interface Charge {
  scope: string
  field: WindowField
  start: number
  tokens: number
}

export interface StoredReservation {
  id: string
  tokens: number
  charges: Charge[]
  leaseUntil: number
  /** JSON of the usage-record fields known at admission. */
  record: string
}

/** What the alarm has to do: settle by the earliest lease end, and flush queued records if any. */
export interface DueWork {
  nextLeaseEnd: number | null
  hasRecords: boolean
}

/** `(?, ?), (?, ?)` for `rows` rows of `columns` values: one statement writes them all. */
const valueRows = (rows: number, columns: number) =>
  Array.from({ length: rows }, () => `(${Array(columns).fill('?').join(', ')})`).join(', ')

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS windows (scope TEXT NOT NULL, field TEXT NOT NULL, start INTEGER NOT NULL,
     used INTEGER NOT NULL, PRIMARY KEY (scope, field))`,
  `CREATE TABLE IF NOT EXISTS reservations (id TEXT PRIMARY KEY, tokens INTEGER NOT NULL,
     charges TEXT NOT NULL, lease_until INTEGER NOT NULL, record TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS holds (reservation_id TEXT NOT NULL, scope TEXT NOT NULL,
     PRIMARY KEY (reservation_id, scope))`,
  'CREATE INDEX IF NOT EXISTS holds_by_scope ON holds (scope)',
  `CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, record TEXT NOT NULL)`,
]

/** Synchronous ledger operations over the Durable Object's SQL storage. */
export class Ledger {
  readonly #sql: SqlStorage

  constructor(sql: SqlStorage) {
    this.#sql = sql
    for (const statement of SCHEMA) sql.exec(statement)
  }

  /** The stored windows and open holds of `scopes`: two queries, whatever the number of limits. */
  read(scopes: Scope[]): ScopeUsage {
    const ids = scopes.map((scope) => scope.id)
    const list = ids.map(() => '?').join(', ')
    const windows = this.#sql.exec<{
      scope: string
      field: WindowField
      start: number
      used: number
    }>(`SELECT scope, field, start, used FROM windows WHERE scope IN (${list})`, ...ids)
    const holds = this.#sql.exec<{ scope: string; n: number }>(
      `SELECT scope, count(*) AS n FROM holds WHERE scope IN (${list}) GROUP BY scope`,
      ...ids,
    )
    return new ScopeUsage(windows, holds)
  }

  /**
   * Records an admitted reservation: +1 request, +tokens in each token window, one hold per scope,
   * in three statements. `usage` is the read the decision was made on; it is updated to match.
   */
  admit(
    reservation: Omit<StoredReservation, 'charges'>,
    scopes: Scope[],
    usage: ScopeUsage,
    now: number,
  ): Charge[] {
    const charges: Charge[] = []
    const windowRows: (string | number)[] = []
    for (const scope of scopes) {
      for (const field of ['rpm', ...TOKEN_FIELDS] as const) {
        const amount = field === 'rpm' ? 1 : reservation.tokens
        const row = usage.add(scope.id, field, amount, now)
        windowRows.push(scope.id, field, row.start, row.used)
        if (field !== 'rpm')
          charges.push({ scope: scope.id, field, start: row.start, tokens: amount })
      }
      usage.hold(scope.id)
    }
    this.#sql.exec(
      `INSERT INTO windows (scope, field, start, used) VALUES ${valueRows(windowRows.length / 4, 4)}
       ON CONFLICT (scope, field) DO UPDATE SET start = excluded.start, used = excluded.used`,
      ...windowRows,
    )
    this.#sql.exec(
      `INSERT INTO holds (reservation_id, scope) VALUES ${valueRows(scopes.length, 2)}`,
      ...scopes.flatMap((scope) => [reservation.id, scope.id]),
    )
    this.#sql.exec(
      'INSERT INTO reservations (id, tokens, charges, lease_until, record) VALUES (?, ?, ?, ?, ?)',
      reservation.id,
      reservation.tokens,
      JSON.stringify(charges),
      reservation.leaseUntil,
      reservation.record,
    )
    return charges
  }

  reservation(id: string): StoredReservation | null {
    const row = this.#sql
      .exec<{ id: string; tokens: number; charges: string; lease_until: number; record: string }>(
        'SELECT * FROM reservations WHERE id = ?',
        id,
      )
      .toArray()[0]
    if (!row) return null
    const charges = JSON.parse(row.charges) as Charge[]
    return {
      id: row.id,
      tokens: row.tokens,
      charges,
      leaseUntil: row.lease_until,
      record: row.record,
    }
  }

  /**
   * Tokens the open reservations of `scope` hold in its `field` window that opened at `start`: what they
   * took at admission, all of which comes back, less their real use, when they settle. One query over
   * the scope's open reservations; asked only when a request is refused for tokens.
   */
  heldTokens(scope: string, field: WindowField, start: number): number {
    let held = 0
    const rows = this.#sql.exec<{ charges: string }>(
      `SELECT r.charges FROM reservations r JOIN holds h ON h.reservation_id = r.id
       WHERE h.scope = ?`,
      scope,
    )
    for (const row of rows) {
      for (const charge of JSON.parse(row.charges) as Charge[]) {
        if (charge.scope === scope && charge.field === field && charge.start === start)
          held += charge.tokens
      }
    }
    return held
  }

  /** Reservations whose lease ended at or before `now` (their request died without settling). */
  expired(now: number): string[] {
    return this.#sql
      .exec<{ id: string }>('SELECT id FROM reservations WHERE lease_until <= ?', now)
      .toArray()
      .map((row) => row.id)
  }

  /** What the alarm has to do, in one query. */
  dueWork(): DueWork {
    const row = this.#sql
      .exec<{ lease_end: number | null; records: number }>(
        `SELECT (SELECT min(lease_until) FROM reservations) AS lease_end,
                EXISTS (SELECT 1 FROM outbox) AS records`,
      )
      .one()
    return { nextLeaseEnd: row.lease_end, hasRecords: row.records === 1 }
  }

  renew(id: string, leaseUntil: number): boolean {
    return (
      this.#sql.exec('UPDATE reservations SET lease_until = ? WHERE id = ?', leaseUntil, id)
        .rowsWritten > 0
    )
  }

  /**
   * Closes a reservation, charging `charged` tokens instead of what was reserved. Windows that have
   * rolled over since are left alone: the request counted in the window it was admitted in.
   */
  settle(reservation: StoredReservation, charged: number): void {
    for (const charge of reservation.charges) {
      this.#sql.exec(
        'UPDATE windows SET used = max(0, used + ?) WHERE scope = ? AND field = ? AND start = ?',
        charged - charge.tokens,
        charge.scope,
        charge.field,
        charge.start,
      )
    }
    this.#sql.exec('DELETE FROM holds WHERE reservation_id = ?', reservation.id)
    this.#sql.exec('DELETE FROM reservations WHERE id = ?', reservation.id)
  }

  /** Queues a usage record for D1 (written in the same transaction as the ledger change). */
  enqueueRecord(id: string, record: string): void {
    this.#sql.exec('INSERT OR REPLACE INTO outbox (id, record) VALUES (?, ?)', id, record)
  }

  pendingRecords(limit: number): { id: string; record: string }[] {
    return this.#sql
      .exec<{ id: string; record: string }>('SELECT id, record FROM outbox LIMIT ?', limit)
      .toArray()
  }

  dropRecords(ids: string[]): void {
    for (const id of ids) this.#sql.exec('DELETE FROM outbox WHERE id = ?', id)
  }

  /**
   * Deletes up to `limit` windows that have closed; a closed window's limit starts from zero anyway, so
   * nothing changes but the table's size. Without this, every end user a tenant ever limited would keep
   * four rows forever. A later settle of a reservation from a deleted window changes nothing, as before.
   * @returns how many were deleted
   */
  pruneClosedWindows(now: number, limit: number): number {
    return this.#sql.exec(
      `DELETE FROM windows WHERE rowid IN (SELECT rowid FROM windows
         WHERE (field IN ('rpm', 'tpm') AND start <= ?) OR (field = 'daily_tokens' AND start < ?)
            OR (field = 'monthly_tokens' AND start < ?)
         LIMIT ?)`,
      now - ROLLING_WINDOW_MS,
      currentWindow('daily_tokens', null, now).start,
      currentWindow('monthly_tokens', null, now).start,
      limit,
    ).rowsWritten
  }
}
