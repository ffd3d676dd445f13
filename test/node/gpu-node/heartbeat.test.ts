/**
 * A real GPU node (small contract model) sending heartbeats to a stand-in edge on loopback: each beat is
 * signed with the node's current secret over the path the edge serves, carries the node's identity and
 * load, and the last one, sent while the node shuts down, says `draining`.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../../gpu-node/config.ts'
import { ensureContractModel } from '../../../gpu-node/contract-model/cache.ts'
import { startNode } from '../../../gpu-node/node-server.ts'
import type { RunningNode } from '../../../gpu-node/node-server.ts'
import { HEARTBEAT_PATH } from '../../../shared/protocol.ts'
import type { NodeHeartbeat } from '../../../shared/protocol.ts'
import { NonceCache, verifyRequest } from '../../../shared/signing.ts'

const SECRET = 'heartbeat-secret'
const beats: { path: string; verified: boolean; body: NodeHeartbeat }[] = []
const nonces = new NonceCache()
const edge = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8')
    void verifyRequest({
      method: req.method ?? '',
      path: req.url ?? '',
      body: text,
      header: (name) => req.headers[name] as string | undefined,
      secrets: [SECRET],
      nonces,
    }).then((result) => {
      beats.push({ path: req.url ?? '', verified: result.ok, body: JSON.parse(text) })
      res.writeHead(204).end()
    })
  })
})
let node: RunningNode | null = null

beforeAll(async () => {
  await new Promise<void>((resolve) => edge.listen(0, '127.0.0.1', resolve))
  const { port } = edge.address() as AddressInfo
  const config = loadConfig({
    GPU_NODE_PORT: '0',
    GPU_NODE_SECRET: `${SECRET},older-secret-0123456789`,
    GEMMA_MODEL_DIR: await ensureContractModel({ vocab: 'small' }),
    GPU_NODE_EDGE_URL: `http://127.0.0.1:${port}`,
    GPU_NODE_ID: 'gpu-test-1',
    GPU_NODE_HEARTBEAT_SECONDS: '1',
  })
  node = await startNode({ ...config, maxRunning: 3 }, () => {})
})
afterAll(async () => {
  await node?.close()
  await new Promise<void>((resolve) => edge.close(() => resolve()))
})

describe('GPU node heartbeats', () => {
  it('sends signed beats with its identity, public URL and load', async () => {
    await expect.poll(() => beats.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(2)
    for (const beat of beats) {
      expect(beat.path).toBe(HEARTBEAT_PATH)
      expect(beat.verified).toBe(true)
    }
    expect(beats[0]!.body).toEqual({
      node_id: 'gpu-test-1',
      url: node!.url,
      max_running: 3,
      running: 0,
      queued: 0,
      free_kv_tokens: expect.any(Number),
      model: { id: 'gemma-3n-e2b-it', dtype: expect.any(String), contract_model: true },
      version: expect.any(String),
      status: 'ok',
    })
    expect(beats[0]!.body.free_kv_tokens).toBeGreaterThan(0)
  })

  it('sends a last `draining` beat when it shuts down', async () => {
    const running = node!
    node = null
    await running.close()
    expect(beats.at(-1)!.body.status).toBe('draining')
    expect(beats.at(-1)!.verified).toBe(true)
  })
})
