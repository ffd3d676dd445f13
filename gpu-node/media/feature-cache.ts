/**
 * @module
 * A least-recently-used cache of encoder outputs, keyed by the SHA-256 of the preprocessed input and
 * bounded by the bytes it holds, so a multi-turn conversation that resends the same image or clip is not
 * encoded again (about 2 MiB of features per image for Gemma 3n: 256 rows x 2048 x float32).
 */
import { createHash } from 'node:crypto'

export interface CacheStats {
  hits: number
  misses: number
  entries: number
  bytes: number
  maxBytes: number
}

/**
 * Content key of an encoder input: the modality, its dims, then the raw bytes of each array in order.
 * @example contentKey('image', [3, 768, 768], [pixels])
 */
export function contentKey(
  kind: string,
  dims: readonly number[],
  arrays: readonly ArrayBufferView[],
): string {
  const hash = createHash('sha256').update(`${kind}:${dims.join('x')}:`)
  for (const a of arrays) hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
  return hash.digest('hex')
}

/** A cached value; its size is the bytes of `data`. */
export interface Sized {
  data: ArrayBufferView
}

/** LRU map from content key to features, evicting the least recently used past `maxBytes`. */
export class FeatureCache<V extends Sized> {
  readonly maxBytes: number
  // A Map iterates in insertion order: re-inserting on every hit keeps the oldest use first.
  readonly #entries = new Map<string, V>()
  #bytes = 0
  #hits = 0
  #misses = 0

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes
  }

  /** The cached value (now most recently used), or undefined. */
  get(key: string): V | undefined {
    const value = this.#entries.get(key)
    if (value === undefined) {
      this.#misses++
      return undefined
    }
    this.#hits++
    this.#entries.delete(key)
    this.#entries.set(key, value)
    return value
  }

  /** Stores `value` (not copied: callers hand over an array they no longer write). */
  set(key: string, value: V): void {
    if (value.data.byteLength > this.maxBytes) return
    const old = this.#entries.get(key)
    if (old) {
      this.#entries.delete(key)
      this.#bytes -= old.data.byteLength
    }
    this.#entries.set(key, value)
    this.#bytes += value.data.byteLength
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break
      this.#entries.delete(oldest)
      this.#bytes -= entry.data.byteLength
    }
  }

  get stats(): CacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      entries: this.#entries.size,
      bytes: this.#bytes,
      maxBytes: this.maxBytes,
    }
  }
}
