/**
 * @module
 * Two small ONNX graphs that reshape the batched KV cache on the decoder's own device, so the cache never
 * leaves it (on WebGPU the cache tensors are opaque `gpu-buffer`s that JavaScript cannot slice):
 * - `join`: pads the batch and a new sequence's cache to one width and stacks them (Pad, Concat).
 * - `keep`: keeps the given rows and the given range of columns, dropping columns that are padding in
 *   every kept row (Gather, Slice).
 * Both take every cache tensor at once, so a join or a removal is one `session.run`.
 * Built in memory at load time from the decoder's declared cache inputs (names, dtypes).
 */
import { GraphBuilder } from '../contract-model/onnx-builder.ts'
import type { CacheInput } from './contract-check.ts'
import type { KvPadding } from './kv-batch.ts'
import type { InferenceSession, OrtRuntime, Tensor } from './ort-runtime.ts'
import { sessionRun } from './session-run.ts'

export class KvGraphs {
  readonly #runtime: OrtRuntime
  readonly #cache: CacheInput[]
  readonly #join: InferenceSession
  readonly #keep: InferenceSession

  private constructor(
    runtime: OrtRuntime,
    cache: CacheInput[],
    join: InferenceSession,
    keep: InferenceSession,
  ) {
    this.#runtime = runtime
    this.#cache = cache
    this.#join = join
    this.#keep = keep
  }

  static async create(runtime: OrtRuntime, cache: CacheInput[]): Promise<KvGraphs> {
    const outputs = cache.map((_, i) => `out.${i}`)
    const [join, keep] = await Promise.all([
      runtime.createSessionFromBytes(buildJoin(cache), outputs),
      runtime.createSessionFromBytes(buildKeep(cache), outputs),
    ])
    return new KvGraphs(runtime, cache, join, keep)
  }

  /**
   * Stacks `batch` ([B, heads, width, dim] per cache) and `row` ([1, heads, length, dim]) into
   * [B + 1, heads, max(width, length), dim], padding whichever is shorter with zeros on `side`.
   */
  async join(
    batch: Map<string, Tensor>,
    padBatch: number,
    row: Map<string, Tensor>,
    padRow: number,
    side: KvPadding,
  ): Promise<Map<string, Tensor>> {
    const feeds: Record<string, Tensor> = {
      pad_batch: this.#pads(padBatch, side),
      pad_row: this.#pads(padRow, side),
    }
    this.#cache.forEach((c, i) => {
      feeds[`batch.${i}`] = batch.get(c.name)!
      feeds[`row.${i}`] = row.get(c.name)!
    })
    return this.#collect(await sessionRun('kv join', this.#join, feeds))
  }

  /** Keeps `rows` (in that order) and the columns [start, end). */
  async keep(
    batch: Map<string, Tensor>,
    rows: number[],
    start: number,
    end: number,
  ): Promise<Map<string, Tensor>> {
    const feeds: Record<string, Tensor> = {
      rows: this.#int64(rows, [rows.length]),
      start: this.#int64([start], [1]),
      end: this.#int64([end], [1]),
    }
    this.#cache.forEach((c, i) => (feeds[`batch.${i}`] = batch.get(c.name)!))
    return this.#collect(await sessionRun('kv keep', this.#keep, feeds))
  }

  async release(): Promise<void> {
    await Promise.all([this.#join.release(), this.#keep.release()])
  }

  #collect(out: Record<string, Tensor>): Map<string, Tensor> {
    return new Map(this.#cache.map((c, i) => [c.name, out[`out.${i}`]!]))
  }

  /** Pad's `pads` for a 4-D tensor (all begins, then all ends): `pad` zeros on one side of axis 2. */
  #pads(pad: number, side: KvPadding): Tensor {
    const pads = side === 'left' ? [0, 0, pad, 0, 0, 0, 0, 0] : [0, 0, 0, 0, 0, 0, pad, 0]
    return this.#int64(pads, [8])
  }

  #int64(values: number[], dims: number[]): Tensor {
    return this.#runtime.tensor(
      'int64',
      BigInt64Array.from(values, (v) => BigInt(v)),
      dims,
    )
  }
}

function buildJoin(cache: CacheInput[]): Uint8Array {
  const g = new GraphBuilder(0)
  const padBatch = g.input('pad_batch', 'int64', [8])
  const padRow = g.input('pad_row', 'int64', [8])
  cache.forEach((c, i) => {
    const batch = g.input(`batch.${i}`, c.type, cacheDims(c, 'batch', 'width'))
    const row = g.input(`row.${i}`, c.type, cacheDims(c, 1, 'length'))
    const out = g.op(
      'Concat',
      [g.op('Pad', [batch, padBatch]), g.op('Pad', [row, padRow])],
      { axis: 0 },
      `out.${i}`,
    )
    g.output(out, c.type, cacheDims(c, 'rows', 'columns'))
  })
  return g.encode('kv_join', 'unused.onnx_data').model
}

function buildKeep(cache: CacheInput[]): Uint8Array {
  const g = new GraphBuilder(0)
  const rows = g.input('rows', 'int64', ['kept'])
  const start = g.input('start', 'int64', [1])
  const end = g.input('end', 'int64', [1])
  const axes = g.int64([2])
  cache.forEach((c, i) => {
    const batch = g.input(`batch.${i}`, c.type, cacheDims(c, 'batch', 'width'))
    const kept = g.op('Gather', [batch, rows], { axis: 0 })
    const out = g.op('Slice', [kept, start, end, axes], {}, `out.${i}`)
    g.output(out, c.type, cacheDims(c, 'kept', 'columns'))
  })
  return g.encode('kv_keep', 'unused.onnx_data').model
}

/** A cache tensor's dims: [rows, kv heads, columns, head dim], heads and head dim as the decoder declares. */
function cacheDims(cache: CacheInput, rows: number | string, columns: string): (number | string)[] {
  return [rows, cache.shape[1] ?? 'heads', columns, cache.shape[3] ?? 'dim']
}
