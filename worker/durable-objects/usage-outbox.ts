/**
 * @module
 * Writes queued usage records from a tenant's Durable Object to D1. Records are queued in the object's own
 * SQLite in the same step as the ledger change they describe, so the ledger and the records cannot
 * disagree; the write to D1 is retried (by the alarm) until it succeeds, and `INSERT OR IGNORE` on the
 * reservation id makes a retried write harmless.
 */
import { utcDay } from '../budget/windows.ts'
import type { Ledger } from './ledger.ts'
import type { UsageRecord } from './limiter-types.ts'

/** Records per D1 batch. */
const BATCH = 50

const INSERT = `INSERT OR IGNORE INTO usage_records (id, request_id, tenant_id, key_id, end_user, model, status,
  outcome, prompt_tokens, completion_tokens, charged_tokens, usage_source, images, audio_clips, audio_seconds,
  latency_ms, ttft_ms, created_at, day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

function bindRecord(db: D1Database, r: UsageRecord): D1PreparedStatement {
  return db
    .prepare(INSERT)
    .bind(
      r.id,
      r.requestId,
      r.tenantId,
      r.keyId,
      r.endUser,
      r.model,
      r.status,
      r.outcome,
      r.promptTokens,
      r.completionTokens,
      r.chargedTokens,
      r.usageSource,
      r.images,
      r.audioClips,
      r.audioSeconds,
      r.latencyMs,
      r.ttftMs,
      r.startedAt,
      utcDay(r.startedAt),
    )
}

/**
 * Flushes the outbox; returns `false` when D1 refused (the caller schedules a retry).
 * @example if (!(await flushUsage(ledger, env.DB))) await ctx.storage.setAlarm(Date.now() + 30_000)
 */
export async function flushUsage(ledger: Ledger, db: D1Database): Promise<boolean> {
  for (;;) {
    const pending = ledger.pendingRecords(BATCH)
    if (pending.length === 0) return true
    try {
      await db.batch(pending.map((row) => bindRecord(db, JSON.parse(row.record) as UsageRecord)))
    } catch (error) {
      console.error(JSON.stringify({ msg: 'usage records not written yet', error: String(error) }))
      return false
    }
    ledger.dropRecords(pending.map((row) => row.id))
  }
}
