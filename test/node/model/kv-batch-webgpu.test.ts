/**
 * The batched KV cache on a WebGPU device: joins and removals run as the two small ONNX graphs of
 * kv-graphs.ts on the device itself, the cache tensors stay `gpu-buffer`s throughout, and their contents
 * are what the padded layout says, with the padding on either side (read back through an Identity session, as JavaScript cannot read
 * a device buffer). Runs where onnxruntime-node opens a WebGPU adapter (Mesa's lavapipe on CI); skips with
 * a message elsewhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CacheInput } from '../../../gpu-node/model/contract-check.ts'
import { KvBatch } from '../../../gpu-node/model/kv-batch.ts'
import type { KvPadding } from '../../../gpu-node/model/kv-batch.ts'
import { KvGraphs } from '../../../gpu-node/model/kv-graphs.ts'
import { openRuntime } from '../../../gpu-node/model/ort-runtime.ts'
import type { OrtRuntime, Tensor } from '../../../gpu-node/model/ort-runtime.ts'
import { WEBGPU_MISSING, deviceCopier, webgpuAvailable } from '../../support/webgpu.ts'

const FOUND = await webgpuAvailable()
if (!FOUND) console.warn(`Skipping the WebGPU KV cache tests: ${WEBGPU_MISSING}.`)

const HEADS = 2
const DIM = 3
const CACHE: CacheInput[] = ['key', 'value'].map((kind) => ({
  name: `past_key_values.0.${kind}`,
  present: `present.0.${kind}`,
  type: 'float32',
  shape: ['batch_size', HEADS, 'past_sequence_length', DIM],
}))

/** A host cache [1, HEADS, length, DIM] whose every value names its sequence, tensor, head, column and lane. */
function hostCache(seq: number, tensor: number, length: number): Float32Array {
  const data = new Float32Array(HEADS * length * DIM)
  for (let h = 0; h < HEADS; h++)
    for (let t = 0; t < length; t++)
      for (let d = 0; d < DIM; d++)
        data[(h * length + t) * DIM + d] = seq * 1000 + tensor * 100 + h * 10 + t + d / 10
  return data
}

/** What a batch of `rows` ([seq, length]) padded to `width` holds in one cache tensor. */
function expectedBatch(
  rows: [number, number][],
  tensor: number,
  width: number,
  padding: KvPadding,
): Float32Array {
  const out = new Float32Array(rows.length * HEADS * width * DIM)
  rows.forEach(([seq, length], r) => {
    const own = hostCache(seq, tensor, length)
    const first = padding === 'left' ? width - length : 0
    for (let h = 0; h < HEADS; h++)
      for (let t = 0; t < length; t++)
        for (let d = 0; d < DIM; d++)
          out[((r * HEADS + h) * width + first + t) * DIM + d] = own[(h * length + t) * DIM + d]!
  })
  return out
}

/** The attention mask of rows 1 (3 tokens), 2 (5) and 3 (2) padded to 5 columns, plus the fed one. */
const MASK_OF_THREE: Record<KvPadding, number[]> = {
  left: [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1],
  right: [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
}

describe.skipIf(!FOUND)('the KV batch on a WebGPU device', () => {
  let runtime: OrtRuntime
  let graphs: KvGraphs
  let copier: Awaited<ReturnType<typeof deviceCopier>>

  beforeAll(async () => {
    runtime = await openRuntime({ runtime: 'node', device: 'webgpu' })
    graphs = await KvGraphs.create(runtime, CACHE)
    copier = await deviceCopier(runtime)
  })
  afterAll(async () => {
    await graphs?.release()
    await copier?.release()
  })

  /** A sequence's prefilled cache, uploaded to the device like a decoder's `present.*` outputs. */
  async function deviceCache(seq: number, length: number): Promise<Map<string, Tensor>> {
    const entries = await Promise.all(
      CACHE.map(async (c, i) => {
        const host = runtime.tensor('float32', hostCache(seq, i, length), [1, HEADS, length, DIM])
        return [c.name, await copier.toDevice(host)] as const
      }),
    )
    return new Map(entries)
  }

  /** Every cache tensor is still a device buffer and holds `rows` padded to `width`. */
  async function expectBatch(batch: KvBatch, rows: [number, number][], width: number) {
    expect(batch.seqIds).toEqual(rows.map(([seq]) => seq))
    expect(batch.width).toBe(width)
    for (const [i, c] of CACHE.entries()) {
      const tensor = batch.caches.get(c.name)!
      expect(tensor.location).toBe('gpu-buffer')
      expect(tensor.dims).toEqual([rows.length, HEADS, width, DIM])
      expect(await copier.toHost(tensor)).toEqual(expectedBatch(rows, i, width, batch.padding))
    }
  }

  it.each(['left', 'right'] as const)(
    'joins sequences of different lengths and removes them on the device (%s padding)',
    async (padding) => {
      const batch = new KvBatch(graphs, padding)
      await batch.join(1, await deviceCache(1, 3), 3)
      await batch.join(2, await deviceCache(2, 5), 5) // wider: the batch is padded
      await batch.join(3, await deviceCache(3, 2), 2) // narrower: the newcomer is padded
      await expectBatch(
        batch,
        [
          [1, 3],
          [2, 5],
          [3, 2],
        ],
        5,
      )
      expect(batch.attentionMask().data).toEqual(BigInt64Array.from(MASK_OF_THREE[padding], BigInt))
      // The widest row leaves: the columns that only it used are dropped too.
      await batch.remove(new Set([2]))
      await expectBatch(
        batch,
        [
          [1, 3],
          [3, 2],
        ],
        3,
      )
      await batch.remove(new Set([1]))
      await expectBatch(batch, [[3, 2]], 2)
      batch.clear()
      expect(batch.heldTokens).toBe(0)
    },
  )
})
