/**
 * @module
 * `TenantLimiter`: one SQLite-backed Durable Object per tenant, the single source of truth for its rate
 * limits, token budgets, concurrent streams and key status (openai-wire.md pain points 1 and 2). RPC:
 * `authorize` (is this key usable now), `reserve` (atomic check-and-take before the GPU node is called),
 * `renew` (a live stream's lease), `commit` (charge what was really used and queue the usage record),
 * `reload` (the admin API changed D1). The alarm settles reservations whose request died, so nothing leaks,
 * and deletes closed limit windows, so per-user windows do not pile up.
 */
import { DurableObject } from 'cloudflare:workers'
import { newId } from '../tenancy/key-material.ts'
import { decide } from './admission.ts'
import { Ledger } from './ledger.ts'
import type {
  CommitInput,
  KeyGrant,
  ReserveInput,
  ReserveResult,
  UsageRecord,
} from './limiter-types.ts'
import type { TenantConfig } from './tenant-config.ts'
import { grantOf, loadTenantConfig, modelAllowed, scopesFor, usableKey } from './tenant-config.ts'
import { flushUsage } from './usage-outbox.ts'

/** A reservation lives this long without a renewal; the worker renews every `LEASE_MS / 3`. */
export const LEASE_MS = 60_000
/**
 * Usage records wait this long in the object's outbox, so one D1 write carries every record of that
 * second. Writing each record as its request ended put a D1 write and two commits between a client's
 * `[DONE]` and its next request's reservation: about 4 ms of that request's first token, measured.
 */
export const USAGE_FLUSH_DELAY_MS = 1_000
/** When D1 refused a usage write, the alarm retries after this long. */
const OUTBOX_RETRY_MS = 30_000
/** Closed limit windows deleted per alarm (it runs within a second of every settled request). */
const PRUNE_BATCH = 500

export class TenantLimiter extends DurableObject<Env> {
  readonly #ledger: Ledger
  #config: Promise<TenantConfig | null> | null = null
  /** The alarm this object set last (`undefined` until read back, after a restart). */
  #alarmAt: number | null | undefined = undefined

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.#ledger = new Ledger(ctx.storage.sql)
  }

  /** The key's tenant and current limits, or `null` when the key is unknown, revoked or expired. */
  async authorize(tenantId: string, keyId: string): Promise<KeyGrant | null> {
    const config = await this.#loadConfig(tenantId)
    const now = Date.now()
    const key = config && usableKey(config, keyId, now)
    if (!config || !key) return null
    const scopes = scopesFor(config, key, null)
    return grantOf(config, key, this.#ledger.read(scopes).snapshot(scopes, now))
  }

  async reserve(input: ReserveInput): Promise<ReserveResult> {
    const config = await this.#loadConfig(input.tenantId)
    const result = this.reserveAt(config, input, Date.now())
    await this.#afterChange()
    return result
  }

  /** The synchronous core of `reserve`, with the clock as a parameter (tests move it). */
  reserveAt(config: TenantConfig | null, input: ReserveInput, now: number): ReserveResult {
    const key = config && usableKey(config, input.keyId, now)
    if (!config || !key) return { ok: false, refusal: null, denied: 'key' }
    const scopes = scopesFor(config, key, input.user)
    const usage = this.#ledger.read(scopes)
    if (!modelAllowed(key, input.record.model)) {
      const grant = grantOf(config, key, usage.snapshot(scopes, now))
      return { ok: false, refusal: null, denied: 'model', grant }
    }
    const decision = decide(usage, scopes, input, now, (scope, field, start) =>
      this.#ledger.heldTokens(scope, field, start),
    )
    if (!decision.ok) {
      const snapshot = usage.snapshot(scopes, now)
      this.#queueRecord(newId('res'), input.tenantId, input.record, {
        status: 429,
        outcome: `refused:${decision.refusal.field}`,
      })
      return {
        ok: false,
        refusal: decision.refusal,
        snapshot,
        grant: grantOf(config, key, snapshot),
      }
    }
    const id = newId('res')
    const tokens = input.promptTokens + decision.completionTokens
    const record = JSON.stringify({ ...input.record, tenantId: input.tenantId })
    this.#ledger.admit({ id, tokens, leaseUntil: now + LEASE_MS, record }, scopes, usage, now)
    const snapshot = usage.snapshot(scopes, now)
    return {
      ok: true,
      reservationId: id,
      completionTokens: decision.completionTokens,
      reservedTokens: tokens,
      leaseMs: LEASE_MS,
      snapshot,
      grant: grantOf(config, key, snapshot),
    }
  }

  /** Extends a live request's lease; `false` when the reservation is gone (already settled or expired). */
  async renew(reservationId: string): Promise<boolean> {
    const renewed = this.#ledger.renew(reservationId, Date.now() + LEASE_MS)
    await this.#afterChange()
    return renewed
  }

  /** Charges a finished request and queues its usage record; `false` when it was already settled. */
  async commit(input: CommitInput): Promise<boolean> {
    const committed = this.commitNow(input)
    await this.#afterChange()
    return committed
  }

  /** The synchronous core of `commit` (also used by the alarm). */
  commitNow(input: CommitInput): boolean {
    const reservation = this.#ledger.reservation(input.reservationId)
    if (!reservation) return false
    const { charge } = input
    const charged =
      charge.kind === 'exact'
        ? charge.promptTokens + charge.completionTokens
        : charge.kind === 'none'
          ? 0
          : reservation.tokens
    this.#ledger.settle(reservation, charged)
    const base = JSON.parse(reservation.record) as UsageRecord
    this.#queueRecord(reservation.id, base.tenantId, base, {
      status: input.status,
      outcome: input.outcome,
      promptTokens: charge.kind === 'exact' ? charge.promptTokens : 0,
      completionTokens: charge.kind === 'exact' ? charge.completionTokens : 0,
      chargedTokens: charged,
      usageSource: charge.kind === 'exact' ? 'node' : charge.kind === 'none' ? 'none' : 'estimate',
      latencyMs: input.latencyMs,
      ttftMs: input.ttftMs,
    })
    return true
  }

  /** Forgets the cached configuration: the next call reads D1 again (after any admin change). */
  reload(): void {
    this.#config = null
  }

  /**
   * Settles every reservation whose lease ran out (its worker died), deletes closed limit windows, then
   * writes queued usage records to D1 off the request path. Runs again for the next lease end, or soon
   * when D1 refused the records.
   */
  override async alarm(): Promise<void> {
    this.#alarmAt = null // it has gone off; `#schedule` below sets the next one
    for (const reservationId of this.#ledger.expired(Date.now())) {
      this.commitNow({
        reservationId,
        charge: { kind: 'reserved' },
        status: 0,
        outcome: 'expired',
        latencyMs: null,
        ttftMs: null,
      })
    }
    this.#ledger.pruneClosedWindows(Date.now(), PRUNE_BATCH)
    const flushed = await flushUsage(this.#ledger, this.env.DB)
    await this.#schedule(flushed ? USAGE_FLUSH_DELAY_MS : OUTBOX_RETRY_MS)
  }

  #queueRecord(
    id: string,
    tenantId: string,
    base: ReserveInput['record'],
    fields: Partial<UsageRecord> & Pick<UsageRecord, 'status' | 'outcome'>,
  ): void {
    const record: UsageRecord = {
      ...base,
      id,
      tenantId,
      promptTokens: 0,
      completionTokens: 0,
      chargedTokens: 0,
      usageSource: 'none',
      latencyMs: null,
      ttftMs: null,
      ...fields,
    }
    this.#ledger.enqueueRecord(id, JSON.stringify(record))
  }

  /** After a ledger change: the alarm writes queued records soon and settles expired leases later. */
  async #afterChange(): Promise<void> {
    await this.#schedule(USAGE_FLUSH_DELAY_MS)
  }

  /**
   * Makes sure the alarm goes off by the next lease end and, when records are queued, within
   * `flushInMs`. An alarm set for earlier stays as it is: moving it later would put the flush off for as
   * long as requests keep coming, and setting it is a storage write the reservation would wait for. An
   * alarm that goes off early finds nothing to do and sets the next one.
   */
  async #schedule(flushInMs: number): Promise<void> {
    const work = this.#ledger.dueWork()
    const flushAt = work.hasRecords ? Date.now() + flushInMs : null
    const due = [work.nextLeaseEnd, flushAt].filter((t): t is number => t !== null)
    if (this.#alarmAt === undefined) this.#alarmAt = await this.ctx.storage.getAlarm()
    if (due.length === 0) {
      if (this.#alarmAt !== null) await this.ctx.storage.deleteAlarm()
      this.#alarmAt = null
      return
    }
    const at = Math.min(...due)
    const set = this.#alarmAt
    // One already due is set again: the runtime gives up on an alarm that keeps failing.
    if (set !== null && set > Date.now() && set <= at) return
    this.#alarmAt = at
    await this.ctx.storage.setAlarm(at)
  }

  #loadConfig(tenantId: string): Promise<TenantConfig | null> {
    const loading = (this.#config ??= loadTenantConfig(this.env.DB, tenantId))
    // A failed load is not cached: the next request tries D1 again.
    loading.catch(() => {
      if (this.#config === loading) this.#config = null
    })
    return loading
  }
}
