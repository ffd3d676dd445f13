/**
 * A client that stops sending its request body, over a real socket, to the worker in workerd on its own
 * socket as Cloudflare runs it (`wrangler dev` answers such a request itself, with its own 500, before the
 * worker's answer can reach the client). The worker takes the broken body for the client leaving: 499
 * `client_closed_request`, nothing logged as a server error.
 */
import { connect } from 'node:net'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startWorkerdEdge } from '../bench/workerd-edge.ts'
import type { WorkerdEdge } from '../bench/workerd-edge.ts'

let edge: WorkerdEdge
beforeAll(async () => {
  // No node is reached: the request ends before routing.
  edge = await startWorkerdEdge({ gpuNodes: 'http://127.0.0.1:9', gpuNodeSecret: 'unused-secret' })
})
afterAll(async () => edge?.stop())

/** Sends headers and half of the promised body, then closes the client's side; the raw reply. */
function sendHalfABody(url: string, apiKey: string): Promise<string> {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  const part = '{"model": "gemma-3n-e2b-it", "messages": [{"role": "user", "cont'
  const reply = new Promise<string>((resolve, reject) => {
    let text = ''
    socket.on('data', (data) => (text += data.toString('latin1')))
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
  })
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${apiKey}\r\n` +
      `content-type: application/json\r\ncontent-length: ${part.length + 100}\r\n\r\n${part}`,
  )
  socket.end()
  return reply
}

it('answers a client that stops sending its body as gone (499), not with a server error', async () => {
  const text = await sendHalfABody(edge.url, edge.apiKey)
  expect(text).toMatch(/^HTTP\/1\.1 499 /)
  expect(text).toContain('"code":"client_closed_request"')
})
