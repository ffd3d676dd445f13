/**
 * @module
 * The decoding sequences' KV caches as one padded batch that persists across steps. Between joins and
 * removals the decoder's `present.*` outputs are fed straight back as the next `past_key_values.*`: no copy,
 * no host round trip. Row `r` holds its real tokens and `pad[r]` padding columns, on the side the decoder
 * needs (`KvPadding`); `attention_mask` tells the decoder which columns are real, so rows never see each
 * other's (or padding) tokens.
 *
 * Cost of the layout: every row is as wide as the longest, so attention reads `rows x width` cache entries
 * per step, and a join or removal rewrites the cache once (on the device, see kv-graphs.ts).
 */
import type { KvGraphs } from './kv-graphs.ts'
import type { Tensor } from './ort-runtime.ts'

/**
 * Where a row's padding goes, which depends on where the decoder writes a step's keys and values:
 * - `left`: rows end together. For a decoder that appends the step's keys after the whole cache
 *   (attention written out in plain operators) and reads `attention_mask` position by position.
 * - `right`: rows start together. For a decoder that writes each row's keys at that row's own length and
 *   reads `attention_mask` only as a count of ones (onnxruntime's `GroupQueryAttention`, which the
 *   onnx-community exports of other Gemma models use).
 * Which one a decoder needs is found by running it (kv-padding-probe.ts).
 */
export type KvPadding = 'left' | 'right'

interface Row {
  seqId: number
  pad: number
}

export class KvBatch {
  readonly #graphs: KvGraphs
  readonly padding: KvPadding
  #rows: Row[] = []
  #width = 0
  #caches: Map<string, Tensor> | null = null

  constructor(graphs: KvGraphs, padding: KvPadding) {
    this.#graphs = graphs
    this.padding = padding
  }

  get seqIds(): number[] {
    return this.#rows.map((row) => row.seqId)
  }

  get width(): number {
    return this.#width
  }

  /** Cache entries held, padding included: what the batch costs in memory. */
  get heldTokens(): number {
    return this.#rows.length * this.#width
  }

  has(seqId: number): boolean {
    return this.#rows.some((row) => row.seqId === seqId)
  }

  /** The cache tensors to feed as `past_key_values.*`. */
  get caches(): Map<string, Tensor> {
    if (!this.#caches) throw new Error('the KV batch is empty')
    return this.#caches
  }

  /** Adds a sequence whose cache (`[1, heads, length, dim]` per name) was filled by its prefill. */
  async join(seqId: number, past: Map<string, Tensor>, length: number): Promise<void> {
    if (!this.#caches) {
      this.#caches = past
      this.#width = length
      this.#rows = [{ seqId, pad: 0 }]
      return
    }
    const width = Math.max(this.#width, length)
    const padBatch = width - this.#width
    const joined = await this.#graphs.join(
      this.#caches,
      padBatch,
      past,
      width - length,
      this.padding,
    )
    dispose(this.#caches)
    dispose(past)
    for (const row of this.#rows) row.pad += padBatch
    this.#rows.push({ seqId, pad: width - length })
    this.#caches = joined
    this.#width = width
  }

  /** Drops rows (finished or cancelled sequences) and the padding columns no remaining row needs. */
  async remove(seqIds: ReadonlySet<number>): Promise<void> {
    const kept = this.#rows.flatMap((row, index) => (seqIds.has(row.seqId) ? [] : [index]))
    if (kept.length === this.#rows.length || !this.#caches) return
    if (kept.length === 0) return this.clear()
    const rows = kept.map((index) => this.#rows[index]!)
    const trim = Math.min(...rows.map((row) => row.pad))
    const [start, end] = this.padding === 'left' ? [trim, this.#width] : [0, this.#width - trim]
    const next = await this.#graphs.keep(this.#caches, kept, start, end)
    dispose(this.#caches)
    this.#caches = next
    this.#rows = rows.map((row) => ({ seqId: row.seqId, pad: row.pad - trim }))
    this.#width -= trim
  }

  /**
   * `[rows, width + 1]`: 0 over each row's padding, 1 over its tokens and the one being fed (at the end with
   * left padding; right after the row's tokens with right padding, where the decoder writes it).
   */
  attentionMask(): { data: BigInt64Array; dims: number[] } {
    const columns = this.#width + 1
    const data = new BigInt64Array(this.#rows.length * columns).fill(1n)
    this.#rows.forEach((row, r) => {
      const start = r * columns
      if (this.padding === 'left') data.fill(0n, start, start + row.pad)
      else data.fill(0n, start + columns - row.pad, start + columns)
    })
    return { data, dims: [this.#rows.length, columns] }
  }

  /** Takes the step's `present.*` as the new cache: one column wider, each row one token longer. */
  advance(present: Map<string, Tensor>): void {
    if (this.#caches) dispose(this.#caches)
    this.#caches = present
    this.#width += 1
  }

  clear(): void {
    if (this.#caches) dispose(this.#caches)
    this.#caches = null
    this.#rows = []
    this.#width = 0
  }
}

function dispose(tensors: Map<string, Tensor>): void {
  for (const tensor of tensors.values()) tensor.dispose()
}
