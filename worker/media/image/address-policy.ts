/**
 * @module
 * Which image URLs the edge may fetch: https on the default port, no credentials, and never a host that
 * names this machine or a private network. IP literals are checked against the IANA special-purpose
 * registries (RFC 6890; IPv4 and IPv6, including v4-mapped, NAT64 and 6to4 forms that embed an IPv4
 * address). The URL parser has already normalised odd IPv4 spellings (`0x7f.1`, `2130706433`).
 * Names that resolve to private addresses cannot be caught here (Workers have no DNS API); on Cloudflare,
 * Workers' fetch cannot reach private address space, which closes that gap in production.
 */

const BLOCKED_NAMES = /(^|\.)(localhost|local|internal|intranet|lan|home\.arpa|localdomain)\.?$/i

/** [network, prefix length] in IPv4 (RFC 6890 and successors). */
const BLOCKED_V4: ReadonlyArray<readonly [number, number]> = [
  [0x00000000, 8], // this network
  [0x0a000000, 8], // private
  [0x64400000, 10], // shared address space (CGNAT)
  [0x7f000000, 8], // loopback
  [0xa9fe0000, 16], // link-local (cloud metadata lives at 169.254.169.254)
  [0xac100000, 12], // private
  [0xc0000000, 24], // IETF protocol assignments
  [0xc0000200, 24], // documentation
  [0xc0586300, 24], // 6to4 relay anycast
  [0xc0a80000, 16], // private
  [0xc6120000, 15], // benchmarking
  [0xc6336400, 24], // documentation
  [0xcb007100, 24], // documentation
  [0xe0000000, 4], // multicast
  [0xf0000000, 4], // reserved and broadcast
]

/** Why `url` may not be fetched, or `null` when it may. */
export function refuseImageUrl(url: URL): string | null {
  if (url.protocol !== 'https:') return 'only https image URLs are fetched'
  if (url.username || url.password) return 'image URLs must not carry credentials'
  if (url.port !== '') return 'image URLs must use the default https port'
  const host = url.hostname
  if (host.startsWith('['))
    return isPublicV6(host.slice(1, -1)) ? null : 'the address is not public'
  const v4 = parseV4(host)
  if (v4 !== null) return isPublicV4(v4) ? null : 'the address is not public'
  if (!host.includes('.') || BLOCKED_NAMES.test(host)) return 'the host name is not public'
  return null
}

function parseV4(host: string): number | null {
  const parts = host.split('.')
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255))
    return null
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0)
}

function isPublicV4(address: number): boolean {
  return !BLOCKED_V4.some(([network, prefix]) => {
    const size = 2 ** (32 - prefix)
    return Math.floor(address / size) === Math.floor(network / size)
  })
}

/** Eight 16-bit groups of an IPv6 literal (the URL parser has compressed and lower-cased it). */
function parseV6(literal: string): number[] | null {
  const [head = '', tail] = literal.split('::')
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)))
  const left = groups(head)
  const right = tail === undefined ? [] : groups(tail)
  const fill = 8 - left.length - right.length
  if (fill < 0 || (tail === undefined && fill !== 0)) return null
  const all = [...left, ...new Array<number>(fill).fill(0), ...right]
  return all.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? all : null
}

function isPublicV6(literal: string): boolean {
  const g = parseV6(literal)
  if (!g) return false
  const [g0 = 0, g1 = 0, , , , g5 = 0, g6 = 0, g7 = 0] = g
  const v4At = (hi: number, lo: number) => hi * 65536 + lo
  if (g.slice(0, 6).every((x) => x === 0)) return false // ::, ::1 and IPv4-compatible
  if (g.slice(0, 5).every((x) => x === 0) && g5 === 0xffff) return isPublicV4(v4At(g6, g7)) // mapped
  if (g0 === 0x64 && g1 === 0xff9b) return isPublicV4(v4At(g6, g7)) // NAT64
  if (g0 === 0x2002) return isPublicV4(v4At(g1, g[2] ?? 0)) // 6to4
  if ((g0 & 0xfe00) === 0xfc00) return false // unique local
  if ((g0 & 0xffc0) === 0xfe80 || (g0 & 0xffc0) === 0xfec0) return false // link- and site-local
  if ((g0 & 0xff00) === 0xff00) return false // multicast
  if (g0 === 0x2001 && g1 === 0x0db8) return false // documentation
  if (g0 === 0x0100 && g1 === 0 && g[2] === 0 && g[3] === 0) return false // discard-only
  return true
}
