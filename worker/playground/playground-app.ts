/**
 * @module
 * `/playground`: a small browser page to try the API without writing code (issue 7). Off unless
 * `PLAYGROUND_ENABLED` is `"true"` (wrangler.toml `[vars]`, or the env file `npm start` writes); when off,
 * every `/playground` path is the same OpenAI-shaped 404 as any unknown route, so a deployment does not
 * reveal that it has one. The page, its stylesheet and its script are separate same-origin responses so the
 * Content-Security-Policy needs no `'unsafe-inline'` at all. The page talks only to this origin's `/v1` API,
 * with the key the user types (kept in page memory, never stored).
 */
import { Hono } from 'hono'
import type { Context } from 'hono'
import type { AppEnv } from '../env.ts'
import { NotFoundError } from '../errors.ts'
import { CLIENT_SCRIPT } from './client-script.ts'
import { PAGE_CSS } from './page-css.ts'
import { PAGE_HTML } from './page-html.ts'

/**
 * Only this origin, and nothing inline: `data:`/`blob:` images are the attachment previews, `blob:` media
 * the recorded clip. `connect-src 'self'` keeps the key from ever being sent to another origin.
 */
export const PLAYGROUND_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' data: blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const SECURITY_HEADERS = {
  'content-security-policy': PLAYGROUND_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // The page records from the microphone only when asked; it never needs the camera or location.
  'permissions-policy': 'microphone=(self), camera=(), geolocation=()',
  'cache-control': 'no-cache',
} as const

function serve(c: Context<AppEnv>, body: string, contentType: string): Response {
  return c.body(body, 200, { ...SECURITY_HEADERS, 'content-type': contentType })
}

export const playgroundApp = new Hono<AppEnv>()

playgroundApp.use('*', async (c, next) => {
  if (c.env.PLAYGROUND_ENABLED !== 'true') {
    throw new NotFoundError(`Unknown route: ${c.req.method} ${c.req.path.slice(0, 200)}`)
  }
  await next()
})
playgroundApp.get('/', (c) => serve(c, PAGE_HTML, 'text/html; charset=utf-8'))
playgroundApp.get('/app.css', (c) => serve(c, PAGE_CSS, 'text/css; charset=utf-8'))
playgroundApp.get('/app.js', (c) => serve(c, CLIENT_SCRIPT, 'text/javascript; charset=utf-8'))
