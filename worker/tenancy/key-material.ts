/**
 * @module
 * API key material: generation, the stored SHA-256 hash, the public prefix, and ids. A key is
 * `gk_` + 32 random bytes in base64url (256 bits, so a fast hash is enough: there is nothing to brute-force).
 * Only the hash and the prefix are stored; the key itself is returned once, at creation.
 */

const KEY_PREFIX = 'gk_'
/** Characters of the key shown in listings (`gk_` + 8): enough to tell keys apart, useless to an attacker. */
const PUBLIC_PREFIX_LENGTH = 11

/** Keys a client may present: RFC 6750 b64token characters, 16 to 256 of them (for imported dev keys). */
export const IMPORTED_KEY_PATTERN = /^[A-Za-z0-9\-._~+/]{16,256}=*$/

const encoder = new TextEncoder()

function base64url(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('')
}

/** A new secret key. */
export function generateApiKey(): string {
  return `${KEY_PREFIX}${base64url(crypto.getRandomValues(new Uint8Array(32)))}`
}

/** The stored form of a key: lowercase hex SHA-256. */
export async function hashApiKey(key: string): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', encoder.encode(key)))
}

/**
 * The public part of a key shown in listings and logs: `gk_` + 8 of a generated key's 43 random
 * characters. An imported key may be as short as 16 characters (and may start with `gk_` too): it shows
 * a quarter of its characters, 8 at most, never enough to guess the rest.
 * @example publicPrefix('abcdefghijklmnop', 'imported') // 'abcd'
 */
export function publicPrefix(key: string, origin: 'generated' | 'imported'): string {
  if (origin === 'generated') return key.slice(0, PUBLIC_PREFIX_LENGTH)
  const shown = Math.min(PUBLIC_PREFIX_LENGTH - KEY_PREFIX.length, Math.floor(key.length / 4))
  return key.slice(0, shown)
}

/**
 * A random id with a readable kind prefix, e.g. `ten_…`, `key_…`, `res_…`.
 * @example newId('key') // 'key_3q2k…'
 */
export function newId(kind: 'ten' | 'key' | 'res'): string {
  return `${kind}_${base64url(crypto.getRandomValues(new Uint8Array(12)))}`
}
