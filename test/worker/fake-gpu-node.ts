/**
 * @module
 * A scripted GPU node for the worker tests (runs in Node, started by global-setup.ts). It verifies the
 * edge's request signature (shared/signing.ts, as a real node does), records each chat request by its
 * `x-request-id`, and replays the scenario named by the `[[scenario:…]]` marker in the last user message
 * (see support/scenarios.ts), with the usage so far on every chunk when the edge asks for continuous
 * usage. Test-only endpoints:
 * `GET /__test/requests?id=` (what the edge forwarded) and `GET /__test/aborted?id=` (whether the edge
 * closed the connection before the stream finished).
 */
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { NonceCache, verifyRequest } from '../../shared/signing.ts'
import type { RecordedRequest, Scenario } from './support/scenarios.ts'
import {
  BAD_REQUEST_ERROR,
  NODE_ERROR,
  NODE_SECRET,
  NORMAL_TEXT,
  OVERLOADED_ERROR,
  SCENARIOS,
  USAGE_CHUNK,
  nodeChunk,
  runningUsage,
} from './support/scenarios.ts'

export interface FakeGpuNode {
  port: number
  close(): Promise<void>
}

const SLOW_INTERVAL_MS = 50
const SLOW_CHUNKS = 200

const HEALTH = {
  status: 'ok',
  model: {
    id: 'gemma-3n-e2b-it',
    contract_model: true,
    note: 'random weights (contract model)',
    dtype: 'fp32',
    device: 'cpu',
    runtime: 'fake',
  },
  load: { running: 0, queued: 0, max_running: 4 },
  version: 'test',
}

const frame = (payload: unknown) => `data: ${JSON.stringify(payload)}\n\n`

function sendJson(res: ServerResponse, status: number, body: unknown, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

function scenarioOf(body: Record<string, unknown>): Scenario {
  const messages = Array.isArray(body.messages) ? body.messages : []
  const last = [...messages].reverse().find((m) => m?.role === 'user')
  const text =
    typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content ?? '')
  const name = /\[\[scenario:([a-z-]+)\]\]/.exec(text)?.[1]
  return (Object.values(SCENARIOS) as string[]).includes(name ?? '')
    ? (name as Scenario)
    : SCENARIOS.normal
}

/** Writes one chunk; with continuous usage, the chunk carries the usage after `tokens` tokens. */
type Send = (delta: object, tokens: number, finish?: string | null, done?: () => void) => void

function replay(scenario: Scenario, res: ServerResponse, continuous: boolean, onAbort: () => void) {
  if (scenario === SCENARIOS.badRequest) return sendJson(res, 400, BAD_REQUEST_ERROR)
  if (scenario === SCENARIOS.serverError) return sendJson(res, 500, NODE_ERROR)
  if (scenario === SCENARIOS.unauthorized) return sendJson(res, 401, NODE_ERROR)
  if (scenario === SCENARIOS.overloaded) {
    return sendJson(res, 503, OVERLOADED_ERROR, { 'retry-after': '2', 'retry-after-ms': '2000' })
  }
  // Accepts the request and never answers (a hung node), until the edge gives up.
  if (scenario === SCENARIOS.hang) return res.on('close', onAbort)
  const send: Send = (delta, tokens, finish = null, done) => {
    const chunk = nodeChunk(delta, finish)
    res.write(frame(continuous ? { ...chunk, usage: runningUsage(tokens) } : chunk), done)
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  res.write(': keep-alive\n\n')
  send({ role: 'assistant', content: '' }, 0)
  if (scenario === SCENARIOS.normal) {
    NORMAL_TEXT.forEach((text, i) => send({ content: text }, i + 1))
    send({}, NORMAL_TEXT.length + 1, 'stop')
    res.write(frame(USAGE_CHUNK))
    return res.end('data: [DONE]\n\n')
  }
  // Node corks the first writes until the next tick: destroying the socket only once they are flushed
  // makes the edge see a started stream that breaks, not a connection that fails.
  const flushed = () => (scenario === SCENARIOS.crash ? res.socket?.destroy() : undefined)
  send({ content: 'Hel' }, 1, null, flushed)
  if (scenario === SCENARIOS.crash) return
  if (scenario === SCENARIOS.errorMidStream) return res.end(`${frame(NODE_ERROR)}data: [DONE]\n\n`)
  if (scenario === SCENARIOS.cut) return res.end()
  let sent = 0
  const timer = setInterval(() => {
    sent += 1
    send({ content: 'lo' }, sent + 1)
    if (sent < SLOW_CHUNKS) return
    clearInterval(timer)
    res.end('data: [DONE]\n\n')
  }, SLOW_INTERVAL_MS)
  res.on('close', () => {
    clearInterval(timer)
    if (!res.writableFinished) onAbort()
  })
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const part of req) chunks.push(part as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * Starts the fake node on 127.0.0.1 and a free port.
 * @example
 * const node = await startFakeGpuNode()
 * try { … } finally { await node.close() }
 */
export async function startFakeGpuNode(): Promise<FakeGpuNode> {
  const requests = new Map<string, RecordedRequest>()
  const aborted = new Set<string>()
  const nonces = new NonceCache()
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const id = url.searchParams.get('id') ?? ''
    if (req.method === 'GET' && url.pathname === '/health') return sendJson(res, 200, HEALTH)
    if (url.pathname === '/__test/requests') {
      const recorded = requests.get(id)
      return recorded ? sendJson(res, 200, recorded) : sendJson(res, 404, { error: 'unknown id' })
    }
    if (url.pathname === '/__test/aborted') return sendJson(res, 200, { aborted: aborted.has(id) })
    if (req.method !== 'POST' || url.pathname !== '/v1/chat/completions') {
      return sendJson(res, 404, NODE_ERROR)
    }
    void readBody(req).then(async (text) => {
      const header = (name: string) => {
        const value = req.headers[name]
        return typeof value === 'string' ? value : null
      }
      const verified = await verifyRequest({
        method: req.method ?? '',
        path: url.pathname,
        body: text,
        header,
        secrets: [NODE_SECRET],
        nonces,
      })
      const body = JSON.parse(text) as Record<string, unknown>
      const requestId = header('x-request-id') ?? ''
      requests.set(requestId, {
        authorized: verified.ok,
        tenant: header('x-gemma-tenant'),
        continuousUsage: header('x-gemma-continuous-usage') === '1',
        body,
      })
      if (!verified.ok) return sendJson(res, 401, NODE_ERROR)
      const continuous = header('x-gemma-continuous-usage') === '1'
      replay(scenarioOf(body), res, continuous, () => aborted.add(requestId))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}

/** A port that was free a moment ago and has nothing listening: connecting to it is refused. */
export async function findDeadPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
