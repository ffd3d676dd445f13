/**
 * @module
 * The tenant Durable Object on its own (real SQLite storage, real D1): an atomic burst against a small
 * budget, windows that reset exactly when the headers said, per-key and per-user limits, and a reservation
 * whose request died being settled by the alarm.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import type { ReserveInput, ReserveResult } from '../../worker/durable-objects/limiter-types.ts'
import { Ledger } from '../../worker/durable-objects/ledger.ts'
import type { Scope } from '../../worker/durable-objects/ledger.ts'
import { loadTenantConfig } from '../../worker/durable-objects/tenant-config.ts'
import type { TenantLimiter } from '../../worker/durable-objects/tenant-limiter.ts'
import { LEASE_MS, USAGE_FLUSH_DELAY_MS } from '../../worker/durable-objects/tenant-limiter.ts'
import { admin, createTenantWithKey, usageRecords } from './support/admin-client.ts'
import { withTimeout } from './support/edge-client.ts'

function input(tenantId: string, keyId: string, extra: Partial<ReserveInput> = {}): ReserveInput {
  return {
    tenantId,
    keyId,
    user: null,
    promptTokens: 40,
    maxCompletionTokens: 100,
    flexibleCompletion: false,
    record: {
      requestId: 'req_test',
      keyId,
      endUser: null,
      model: 'gemma-3n-e2b-it',
      images: 0,
      audioClips: 0,
      audioSeconds: 0,
      startedAt: Date.now(),
    },
    ...extra,
  }
}

const stubFor = (tenantId: string) => env.TENANT_LIMITER.getByName(tenantId)

/** Resolves once the object's alarm is set for a lease end (not for an immediate record write). */
function waitForLeaseAlarm(stub: DurableObjectStub<TenantLimiter>): Promise<void> {
  const poll = async () => {
    for (;;) {
      const alarm = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm())
      if (alarm !== null && alarm > Date.now() + LEASE_MS / 2) return
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  return withTimeout(poll(), 5_000, 'lease alarm')
}

describe('TenantLimiter reservations', () => {
  it('admits exactly what the budget holds from a concurrent burst', async () => {
    const budget = 1_000
    const { tenantId, key } = await createTenantWithKey({ daily_tokens: budget })
    const stub = stubFor(tenantId)
    const requests = 50
    const results: ReserveResult[] = await Promise.all(
      Array.from(
        { length: requests },
        async () => (await stub.reserve(input(tenantId, key.id))) as ReserveResult,
      ),
    )
    const admitted = results.filter((r) => r.ok)
    const reserved = admitted.reduce((sum, r) => sum + (r.ok ? r.reservedTokens : 0), 0)
    console.log(
      `[budget burst, DO] requests=${requests} budget=${budget} per_request=140 admitted=${admitted.length} reserved_tokens=${reserved}`,
    )
    expect(admitted).toHaveLength(Math.floor(budget / 140))
    expect(reserved).toBeLessThanOrEqual(budget)
    // Nothing has settled: the budget is held by running requests, not spent, so a retry may succeed.
    const refused = results.filter((r) => !r.ok)
    for (const r of refused) {
      expect(r).toMatchObject({
        ok: false,
        refusal: { reason: 'busy', field: 'daily_tokens', held: reserved },
      })
    }
  })

  it('calls a budget spent only when settled use fills it, not tokens that running requests hold', async () => {
    const { tenantId, key } = await createTenantWithKey({ daily_tokens: 300 })
    const stub = stubFor(tenantId)
    const reserve = () => stub.reserve(input(tenantId, key.id)) as Promise<ReserveResult>
    const settle = (result: ReserveResult, tokens: number) =>
      stub.commit({
        reservationId: result.ok ? result.reservationId : '',
        charge: { kind: 'exact', promptTokens: tokens, completionTokens: 0 },
        status: 200,
        outcome: 'done',
        latencyMs: null,
        ttftMs: null,
      })
    const a = await reserve()
    const b = await reserve()
    expect([a.ok, b.ok]).toEqual([true, true])
    // 280 of 300 reserved: the third does not fit now, but would once they end.
    expect(await reserve()).toMatchObject({
      ok: false,
      refusal: { reason: 'busy', held: 280, retryAfterMs: 1_000 },
    })
    expect(await settle(a, 140)).toBe(true)
    // 140 spent and 140 held: 160 would be left without the hold, enough for 140.
    expect(await reserve()).toMatchObject({ ok: false, refusal: { reason: 'busy', held: 140 } })
    expect(await settle(b, 140)).toBe(true)
    // 280 spent, nothing held: spent for today.
    expect(await reserve()).toMatchObject({
      ok: false,
      refusal: { reason: 'quota', field: 'daily_tokens' },
    })
  })

  it('grants a client without a maximum what the limits leave, and refuses when nothing is left', async () => {
    const { tenantId, key } = await createTenantWithKey({ tpm: 300 })
    const stub = stubFor(tenantId)
    const flexible = input(tenantId, key.id, {
      maxCompletionTokens: 30_000,
      flexibleCompletion: true,
    })
    const first = await stub.reserve(flexible)
    expect(first).toMatchObject({ ok: true, completionTokens: 260, reservedTokens: 300 })
    // The first holds all of it while it runs: worth a retry when it ends, not at the window's end.
    const second = await stub.reserve(flexible)
    expect(second).toMatchObject({
      ok: false,
      refusal: { reason: 'busy', field: 'tpm', held: 300 },
    })
  })

  it('reopens a window exactly when the reset said, not a millisecond earlier', async () => {
    const { tenantId, key } = await createTenantWithKey({ rpm: 2 })
    const stub = stubFor(tenantId)
    await runInDurableObject(stub, async (instance: TenantLimiter) => {
      const config = await loadTenantConfig(env.DB, tenantId)
      const t0 = 1_800_000_000_000
      const req = input(tenantId, key.id)
      expect(instance.reserveAt(config, req, t0).ok).toBe(true)
      const second = instance.reserveAt(config, req, t0 + 10_000)
      expect(second).toMatchObject({ ok: true, snapshot: { requests: { limit: 2, remaining: 0 } } })
      const resetMs = second.ok ? second.snapshot.requests!.resetMs : -1
      expect(resetMs).toBe(50_000)
      const early = instance.reserveAt(config, req, t0 + 10_000 + resetMs - 1)
      expect(early).toMatchObject({
        ok: false,
        refusal: { reason: 'rate', field: 'rpm', retryAfterMs: 1 },
      })
      const onTime = instance.reserveAt(config, req, t0 + 10_000 + resetMs)
      expect(onTime).toMatchObject({ ok: true, snapshot: { requests: { limit: 2, remaining: 1 } } })
    })
  })

  it('holds per-key and per-user limits on top of the tenant', async () => {
    const { tenantId, key } = await createTenantWithKey(
      { rpm: 100, per_user: { rpm: 1 } },
      { limits: { concurrency: 2 } },
    )
    const stub = stubFor(tenantId)
    const alice = input(tenantId, key.id, { user: 'alice' })
    expect((await stub.reserve(alice)).ok).toBe(true)
    expect(await stub.reserve(alice)).toMatchObject({
      ok: false,
      refusal: { scope: 'user', field: 'rpm' },
    })
    expect((await stub.reserve(input(tenantId, key.id, { user: 'bob' }))).ok).toBe(true)
    expect(await stub.reserve(input(tenantId, key.id, { user: 'carol' }))).toMatchObject({
      ok: false,
      refusal: { scope: 'key', field: 'concurrency' },
    })
  })

  it('admits on one read of the ledger and keeps that read in step with what it wrote', async () => {
    const { tenantId } = await createTenantWithKey({})
    await runInDurableObject(stubFor(tenantId), (_instance: TenantLimiter, state) => {
      // Counts the statements the ledger runs; each one is a round trip into SQLite.
      const statements: string[] = []
      const sql = state.storage.sql
      const counting = {
        exec: (query: string, ...bindings: SqlStorageValue[]) => {
          statements.push(query)
          return sql.exec(query, ...bindings)
        },
      } as unknown as SqlStorage
      const ledger = new Ledger(counting)
      const scopes: Scope[] = [
        { id: 'tenant', kind: 'tenant', limits: { rpm: 10, tpm: 1_000 } },
        { id: 'key:k1', kind: 'key', limits: { daily_tokens: 500 } },
        { id: 'user:u1', kind: 'user', limits: { rpm: 2 } },
      ]
      const t0 = Date.UTC(2027, 0, 15, 12)
      const reservation = (id: string) => ({
        id,
        tokens: 140,
        leaseUntil: t0 + LEASE_MS,
        record: '{}',
      })
      ledger.admit(reservation('res_1'), scopes, ledger.read(scopes), t0)
      statements.length = 0
      const usage = ledger.read(scopes)
      const charges = ledger.admit(reservation('res_2'), scopes, usage, t0 + 1_000)
      // Two reads (windows, holds) and three writes (windows, holds, the reservation), for 12 windows.
      expect(statements).toHaveLength(5)
      expect(charges).toHaveLength(9)
      const stored = sql
        .exec<{ scope: string; field: string; used: number }>(
          'SELECT scope, field, used FROM windows',
        )
        .toArray()
      expect(stored).toHaveLength(12)
      for (const row of stored) expect(row.used).toBe(row.field === 'rpm' ? 2 : 280)
      // The read the decision was made on now says what a fresh read says.
      const fresh = ledger.read(scopes)
      for (const scope of scopes) {
        expect(usage.active(scope.id)).toBe(2)
        expect(fresh.active(scope.id)).toBe(2)
      }
      expect(usage.snapshot(scopes, t0 + 1_000)).toEqual(fresh.snapshot(scopes, t0 + 1_000))
      expect(fresh.snapshot(scopes, t0 + 1_000)).toMatchObject({
        requests: { limit: 2, remaining: 0 },
        tokens: { limit: 1_000, remaining: 720 },
        budget: { limit: 500, remaining: 220 },
      })
    })
  })

  it('deletes closed windows, per-user ones included, and keeps open ones', async () => {
    const { tenantId, key } = await createTenantWithKey({ rpm: 100, per_user: { rpm: 10 } })
    await runInDurableObject(stubFor(tenantId), async (instance: TenantLimiter, state) => {
      const config = await loadTenantConfig(env.DB, tenantId)
      const t0 = Date.UTC(2027, 0, 15, 12)
      for (const user of ['u1', 'u2', 'u3']) {
        expect(instance.reserveAt(config, input(tenantId, key.id, { user }), t0).ok).toBe(true)
      }
      const ledger = new Ledger(state.storage.sql)
      const rows = () =>
        state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM windows').one().n
      // Four windows (rpm, tpm, daily, monthly) for the tenant and for each of the three users.
      expect(rows()).toBe(16)
      expect(ledger.pruneClosedWindows(t0 + 59_999, 100)).toBe(0)
      expect(ledger.pruneClosedWindows(t0 + 60_000, 100)).toBe(8)
      expect(ledger.pruneClosedWindows(Date.UTC(2027, 0, 16), 100)).toBe(4)
      expect(ledger.pruneClosedWindows(Date.UTC(2027, 1, 1), 3)).toBe(3)
      expect(rows()).toBe(1)
      // A closed window was worth nothing: the next request starts a fresh one.
      const next = instance.reserveAt(
        config,
        input(tenantId, key.id, { user: 'u1' }),
        t0 + 86_400_000 * 20,
      )
      expect(next).toMatchObject({ ok: true, snapshot: { requests: { remaining: 9 } } })
    })
  })

  it('refuses everything at a limit of 0', async () => {
    const { tenantId, key } = await createTenantWithKey({ monthly_tokens: 0 })
    expect(await stubFor(tenantId).reserve(input(tenantId, key.id))).toMatchObject({
      ok: false,
      refusal: { reason: 'disabled', field: 'monthly_tokens', limit: 0 },
    })
  })
})

describe('settling', () => {
  it('charges exact usage, refunds the rest, and writes one record per reservation', async () => {
    const { tenantId, key } = await createTenantWithKey({ daily_tokens: 200 })
    const stub = stubFor(tenantId)
    const first = await stub.reserve(input(tenantId, key.id))
    const second = await stub.reserve(input(tenantId, key.id))
    expect(first.ok && !second.ok).toBe(true)
    if (!first.ok) return
    const charge = { kind: 'exact', promptTokens: 12, completionTokens: 3 } as const
    const settle = { charge, status: 200, outcome: 'done', latencyMs: 5, ttftMs: 2 }
    expect(await stub.commit({ reservationId: first.reservationId, ...settle })).toBe(true)
    expect(await stub.commit({ reservationId: first.reservationId, ...settle })).toBe(false)
    const after = await stub.reserve(input(tenantId, key.id))
    expect(after).toMatchObject({
      ok: true,
      snapshot: { budget: { limit: 200, remaining: 200 - 15 - 140 } },
    })
    const records = await usageRecords(tenantId, 2)
    expect(records.map((r) => [r.status, r.charged_tokens, r.usage_source]).sort()).toEqual([
      [200, 15, 'node'],
      [429, 0, 'none'],
    ])
  })

  it('settles a reservation whose worker died when its lease runs out (alarm)', async () => {
    const { tenantId, key } = await createTenantWithKey({ concurrency: 1, daily_tokens: 1_000 })
    const stub = stubFor(tenantId)
    const held = await stub.reserve(input(tenantId, key.id))
    expect(held.ok).toBe(true)
    expect(await stub.reserve(input(tenantId, key.id))).toMatchObject({
      ok: false,
      refusal: { field: 'concurrency' },
    })
    // The refusal's usage record is written by an alarm that runs at once; after it, the alarm waits for
    // the lease end. The request's worker is gone: nobody renews or commits. Let the lease run out.
    await waitForLeaseAlarm(stub)
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec('UPDATE reservations SET lease_until = ?', Date.now() - 1)
    })
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    const next = await stub.reserve(input(tenantId, key.id))
    // The slot is free again; the dead request was charged its whole reservation (140), never less.
    expect(next).toMatchObject({ ok: true, snapshot: { budget: { remaining: 1_000 - 140 - 140 } } })
    const records = await usageRecords(tenantId, 2)
    expect(records.find((r) => r.outcome === 'expired')).toMatchObject({
      charged_tokens: 140,
      usage_source: 'estimate',
    })
    if (next.ok) {
      const done = {
        charge: { kind: 'none' },
        status: 502,
        outcome: 'node_refused',
        latencyMs: 1,
        ttftMs: null,
      } as const
      await stub.commit({ reservationId: next.reservationId, ...done })
    }
    await runDurableObjectAlarm(stub)
  })

  it('writes the records of a busy second in one go, and never puts that write off', async () => {
    const { tenantId, key } = await createTenantWithKey()
    const stub = stubFor(tenantId)
    const alarmOf = () => runInDurableObject(stub, (_instance, state) => state.storage.getAlarm())
    const done = { status: 200, outcome: 'done', latencyMs: 5, ttftMs: 2 } as const
    const charge = { kind: 'exact', promptTokens: 10, completionTokens: 5 } as const
    const serve = async () => {
      const reserved = await stub.reserve(input(tenantId, key.id))
      if (!reserved.ok) throw new Error('refused')
      return reserved.reservationId
    }
    const first = await serve()
    // Nothing queued yet: the alarm waits for the lease end.
    expect(await alarmOf()).toBeGreaterThan(Date.now() + LEASE_MS / 2)
    const before = Date.now()
    await stub.commit({ reservationId: first, charge, ...done })
    const flushAt = await alarmOf()
    expect(flushAt).toBeGreaterThanOrEqual(before + USAGE_FLUSH_DELAY_MS)
    expect(flushAt).toBeLessThanOrEqual(Date.now() + USAGE_FLUSH_DELAY_MS)
    // More requests end within that second: their records join the queue and the write stays when it was.
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
      await stub.commit({ reservationId: await serve(), charge, ...done })
      expect(await alarmOf()).toBe(flushAt)
    }
    const written = () =>
      env.DB.prepare('SELECT count(*) AS n FROM usage_records WHERE tenant_id = ?')
        .bind(tenantId)
        .first<number>('n')
    expect(await written()).toBe(0)
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    expect(await written()).toBe(4)
    // Nothing open, nothing queued: no alarm is left behind.
    expect(await alarmOf()).toBeNull()
  })

  it('refuses a key the moment it is revoked', async () => {
    const { tenantId, key } = await createTenantWithKey()
    const stub = stubFor(tenantId)
    expect(await stub.authorize(tenantId, key.id)).toMatchObject({ keyId: key.id })
    expect((await admin('DELETE', `/keys/${key.id}`)).status).toBe(200)
    expect(await stub.authorize(tenantId, key.id)).toBeNull()
    expect(await stub.reserve(input(tenantId, key.id))).toEqual({
      ok: false,
      refusal: null,
      denied: 'key',
    })
  })

  it('refuses a model the key may not use, reserving nothing', async () => {
    const { tenantId, key } = await createTenantWithKey(
      { daily_tokens: 1_000 },
      {
        allowed_models: ['Gemma-3n-E2B-it'],
      },
    )
    const stub = stubFor(tenantId)
    const other = input(tenantId, key.id)
    other.record.model = 'some-other-model'
    expect(await stub.reserve(other)).toMatchObject({
      ok: false,
      refusal: null,
      denied: 'model',
      grant: { keyId: key.id, allowedModels: ['Gemma-3n-E2B-it'] },
    })
    // Model ids compare case-insensitively; the refusal took nothing from the budget.
    expect(await stub.reserve(input(tenantId, key.id))).toMatchObject({
      ok: true,
      grant: { tenantId, keyId: key.id },
      snapshot: { budget: { limit: 1_000, remaining: 860 } }, // 40 prompt + 100 completion tokens
    })
  })
})
