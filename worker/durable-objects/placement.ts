/**
 * @module
 * Where the worker's Durable Objects are created. Cloudflare creates an object near the request that first
 * asks for it, and it stays there: a tenant first used from a laptop in Europe keeps its object in Europe,
 * and every request of that tenant, from anywhere, goes through it before the GPU node is called. With
 * users and GPU nodes in America, that is an ocean crossing on every first token. `DO_LOCATION_HINT` (one
 * of Cloudflare's location hints) creates the tenant and fleet objects near the GPU nodes instead. A hint
 * only places an object that does not exist yet; objects already created stay where they are.
 */
import type { Bindings } from '../env.ts'

/** Cloudflare's Durable Object location hints. */
export const LOCATION_HINTS: readonly DurableObjectLocationHint[] = [
  'wnam',
  'enam',
  'sam',
  'weur',
  'eeur',
  'apac',
  'apac-ne',
  'apac-se',
  'oc',
  'afr',
  'me',
]

const warned = new Set<string>()

/**
 * The options to create this worker's Durable Objects with: the hint of `DO_LOCATION_HINT`, or none.
 * A value that is not a hint is ignored (Cloudflare's default placement), with one log line per isolate.
 */
export function placement(
  env: Pick<Bindings, 'DO_LOCATION_HINT'>,
): DurableObjectNamespaceGetDurableObjectOptions | undefined {
  const hint = env.DO_LOCATION_HINT?.trim()
  if (!hint) return undefined
  if ((LOCATION_HINTS as readonly string[]).includes(hint))
    return { locationHint: hint as DurableObjectLocationHint }
  if (!warned.has(hint)) {
    warned.add(hint)
    console.error(
      JSON.stringify({
        msg: 'DO_LOCATION_HINT is not a Cloudflare location hint; ignored',
        value: hint.slice(0, 16),
        hints: LOCATION_HINTS.join(','),
      }),
    )
  }
  return undefined
}
