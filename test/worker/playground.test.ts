/**
 * @module
 * The playground's switch and headers, through the worker's real entry: off (wrangler.toml's default) every
 * `/playground` path is the plain OpenAI-shaped 404 of an unknown route; on, the page, script and stylesheet
 * come with the strict Content-Security-Policy. The page itself is tested in Chromium (test/e2e).
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import app from '../../worker/index.ts'
import { PLAYGROUND_CSP } from '../../worker/playground/playground-app.ts'
import { EDGE, callEdge } from './support/edge-client.ts'

async function callEnabled(path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext()
  const response = await app.fetch(
    new Request(`${EDGE}${path}`, init),
    { ...env, PLAYGROUND_ENABLED: 'true' },
    ctx,
  )
  await waitOnExecutionContext(ctx)
  return response
}

describe('/playground', () => {
  it.each(['/playground', '/playground/app.js', '/playground/app.css'])(
    'is a 404 in the OpenAI shape when not enabled: %s',
    async (path) => {
      expect(env.PLAYGROUND_ENABLED).toBe('false')
      const res = await callEdge(path)
      expect(res.status).toBe(404)
      expect(res.headers.get('content-security-policy')).toBeNull()
      expect(await res.json()).toEqual({
        error: {
          message: `Unknown route: GET ${path}`,
          type: 'invalid_request_error',
          param: null,
          code: 'not_found',
        },
      })
    },
  )

  it.each([
    ['/playground', 'text/html; charset=utf-8', 'role="log"'],
    ['/playground/app.js', 'text/javascript; charset=utf-8', 'function streamChat'],
    ['/playground/app.css', 'text/css; charset=utf-8', ':focus-visible'],
  ])('serves %s when enabled, with the CSP', async (path, contentType, marker) => {
    const res = await callEnabled(path)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe(contentType)
    expect(res.headers.get('content-security-policy')).toBe(PLAYGROUND_CSP)
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(await res.text()).toContain(marker)
  })

  it('keeps the API key out of storage: the script never touches localStorage or cookies', async () => {
    const script = await (await callEnabled('/playground/app.js')).text()
    expect(script).not.toMatch(/localStorage|sessionStorage|indexedDB|document\.cookie/)
    expect(script).toContain("credentials: 'omit'")
  })

  it('answers unknown playground paths and other methods with the 404 even when enabled', async () => {
    expect((await callEnabled('/playground/nope')).status).toBe(404)
    expect((await callEnabled('/playground', { method: 'POST' })).status).toBe(404)
  })
})
