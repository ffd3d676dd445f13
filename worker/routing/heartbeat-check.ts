/**
 * @module
 * Checks a node's heartbeat: the signature first (with that node's secrets, shared/signing.ts), then the
 * body's shape. Runs inside the NodeRegistry object, so one nonce cache sees every heartbeat and a replay
 * is refused whichever isolate received it. Failures carry a reason for the log, never a secret.
 */
import * as v from 'valibot'
import { HEARTBEAT_PATH } from '../../shared/protocol.ts'
import type { NodeHeartbeat } from '../../shared/protocol.ts'
import { verifyRequest } from '../../shared/signing.ts'
import type { NonceCache } from '../../shared/signing.ts'
import { isNodeId } from './fleet-config.ts'

/** A heartbeat is a few hundred bytes; anything much larger is not one. */
export const HEARTBEAT_MAX_BYTES = 4_096

const count = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1e9))
const label = v.pipe(v.string(), v.minLength(1), v.maxLength(128))

const heartbeatSchema = v.strictObject({
  node_id: v.custom<string>(isNodeId, 'node_id must be 1-64 letters, digits, ".", "_" or "-"'),
  url: v.pipe(
    v.string(),
    v.maxLength(512),
    v.check((url) => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol), 'url'),
  ),
  max_running: v.pipe(count, v.minValue(1)),
  running: count,
  queued: count,
  free_kv_tokens: count,
  model: v.strictObject({ id: label, dtype: label, contract_model: v.boolean() }),
  version: label,
  status: v.picklist(['ok', 'draining']),
})

export type HeartbeatCheck =
  { ok: true; heartbeat: NodeHeartbeat } | { ok: false; status: 400 | 401; reason: string }

export interface SignedBody {
  body: string
  headers: Record<string, string>
}

/**
 * @example
 * const check = await checkHeartbeat(signed, (id) => secretsFor(env, id), nonces)
 */
export async function checkHeartbeat(
  signed: SignedBody,
  secretsOf: (nodeId: string) => string[],
  nonces: NonceCache,
): Promise<HeartbeatCheck> {
  if (signed.body.length > HEARTBEAT_MAX_BYTES) {
    return { ok: false, status: 400, reason: 'too_large' }
  }
  let json: unknown
  try {
    json = JSON.parse(signed.body)
  } catch {
    json = null
  }
  // The id only chooses which secrets to try; nothing else in the body is trusted before the signature.
  const claimedId = (json as { node_id?: unknown } | null)?.node_id
  const secrets = isNodeId(claimedId) ? secretsOf(claimedId) : secretsOf('')
  const verified = await verifyRequest({
    method: 'POST',
    path: HEARTBEAT_PATH,
    body: signed.body,
    header: (name) => signed.headers[name.toLowerCase()],
    secrets,
    nonces,
  })
  if (!verified.ok) return { ok: false, status: 401, reason: verified.reason }
  const parsed = v.safeParse(heartbeatSchema, json)
  if (!parsed.success) {
    const issue = parsed.issues[0]
    const path = issue.path?.map((item) => String(item.key)).join('.') ?? 'body'
    return { ok: false, status: 400, reason: `malformed: ${path}` }
  }
  return { ok: true, heartbeat: parsed.output }
}
