/**
 * @module
 * Request signing between the edge and GPU nodes (both directions: requests edge → node, heartbeats
 * node → edge). HMAC-SHA256 over method, path, timestamp, nonce and the body's SHA-256, with WebCrypto so
 * the same code runs in workerd and Node. A verifier accepts several secrets at once (rotation), refuses
 * clock skew beyond a window, and refuses a nonce seen before within that window (replay).
 */

export const SIGNATURE_HEADERS = {
  timestamp: 'x-gemma-timestamp',
  nonce: 'x-gemma-nonce',
  bodyDigest: 'x-gemma-content-sha256',
  signature: 'x-gemma-signature',
} as const

/** Scheme tag inside the signed string and the signature header, so a future scheme cannot be confused. */
const SCHEME = 'v1'
/** Default accepted clock difference between signer and verifier. */
export const MAX_SKEW_MS = 60_000

export interface SignInput {
  method: string
  /** Path and query, e.g. `/v1/chat/completions`. */
  path: string
  body: Uint8Array | string
  secret: string
  now?: number
  nonce?: string
}

/** Headers to add to a request. @example fetch(url, { headers: { ...(await signRequest(input)) } }) */
export async function signRequest(input: SignInput): Promise<Record<string, string>> {
  const timestamp = String(Math.floor((input.now ?? Date.now()) / 1000))
  const nonce = input.nonce ?? randomNonce()
  const bodyDigest = await sha256Hex(input.body)
  const mac = await hmac(
    input.secret,
    canonical(input.method, input.path, timestamp, nonce, bodyDigest),
  )
  return {
    [SIGNATURE_HEADERS.timestamp]: timestamp,
    [SIGNATURE_HEADERS.nonce]: nonce,
    [SIGNATURE_HEADERS.bodyDigest]: bodyDigest,
    [SIGNATURE_HEADERS.signature]: `${SCHEME}=${toHex(mac)}`,
  }
}

export interface VerifyInput {
  method: string
  path: string
  body: Uint8Array | string
  header(name: string): string | null | undefined
  /** Current and previous secrets during a rotation; any one may match. */
  secrets: readonly string[]
  nonces: NonceCache
  now?: number
  maxSkewMs?: number
}

export type VerifyResult =
  { ok: true } | { ok: false; reason: 'missing' | 'skew' | 'digest' | 'signature' | 'replay' }

/** Checks a signed request. The reason is for logs; callers answer every failure with the same 401. */
export async function verifyRequest(input: VerifyInput): Promise<VerifyResult> {
  const timestamp = input.header(SIGNATURE_HEADERS.timestamp)
  const nonce = input.header(SIGNATURE_HEADERS.nonce)
  const digest = input.header(SIGNATURE_HEADERS.bodyDigest)
  const signature = /^v1=([0-9a-f]{64})$/.exec(input.header(SIGNATURE_HEADERS.signature) ?? '')
  if (
    !timestamp ||
    !/^\d{1,12}$/.test(timestamp) ||
    !nonce ||
    !/^[A-Za-z0-9_-]{16,64}$/.test(nonce)
  ) {
    return { ok: false, reason: 'missing' }
  }
  if (!digest || !signature) return { ok: false, reason: 'missing' }
  const now = input.now ?? Date.now()
  const window = input.maxSkewMs ?? MAX_SKEW_MS
  if (Math.abs(now - Number(timestamp) * 1000) > window) return { ok: false, reason: 'skew' }
  if ((await sha256Hex(input.body)) !== digest) return { ok: false, reason: 'digest' }
  const message = utf8(canonical(input.method, input.path, timestamp, nonce, digest))
  const mac = fromHex(signature[1]!)
  let matched = false
  for (const secret of input.secrets) {
    // subtle.verify compares in constant time.
    if (secret && (await crypto.subtle.verify('HMAC', await hmacKey(secret), mac, message)))
      matched = true
  }
  if (!matched) return { ok: false, reason: 'signature' }
  // Only a valid signature may consume a nonce, so forged requests cannot fill or poison the cache.
  if (!input.nonces.claim(nonce, now + 2 * window)) return { ok: false, reason: 'replay' }
  return { ok: true }
}

/** Nonces seen within the skew window; older ones are forgotten (their timestamps are refused anyway). */
export class NonceCache {
  readonly #expiries = new Map<string, number>()
  readonly #limit: number

  constructor(limit = 100_000) {
    this.#limit = limit
  }

  /** Records the nonce; `false` if it was already recorded and has not expired. */
  claim(nonce: string, expiresAt: number, now = Date.now()): boolean {
    const seen = this.#expiries.get(nonce)
    if (seen !== undefined && seen > now) return false
    this.#expiries.set(nonce, expiresAt)
    if (this.#expiries.size > this.#limit) this.#prune(now)
    return true
  }

  #prune(now: number): void {
    for (const [nonce, expiry] of this.#expiries) if (expiry <= now) this.#expiries.delete(nonce)
    // Still full of live nonces: drop the oldest entries (Map keeps insertion order).
    for (const nonce of this.#expiries.keys()) {
      if (this.#expiries.size <= this.#limit) break
      this.#expiries.delete(nonce)
    }
  }
}

function canonical(
  method: string,
  path: string,
  timestamp: string,
  nonce: string,
  digest: string,
): string {
  return [`GEMMA-HMAC-SHA256-${SCHEME}`, method.toUpperCase(), path, timestamp, nonce, digest].join(
    '\n',
  )
}

async function hmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', utf8(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ])
}

async function hmac(secret: string, message: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret), utf8(message)))
}

async function sha256Hex(body: Uint8Array | string): Promise<string> {
  const bytes = typeof body === 'string' ? utf8(body) : body
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)))
}

function randomNonce(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)))
}

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}
