/**
 * @module test/model/sampling-head
 * The sampling head returns exactly what one plain TopK over the whole row returns (the K highest logits,
 * ties to the lower id), on both runtimes, for float32 and float16 logits: through the two-stage graph at
 * the Gemma vocabulary (262,400 ids) and through the plain graph where no block size fits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { float16ToFloat32 } from '../../../gpu-node/model/float16.ts'
import { float32ToFloat16 } from '../../../gpu-node/model/float32-to-float16.ts'
import { openRuntime } from '../../../gpu-node/model/ort-runtime.ts'
import type { OrtRuntime } from '../../../gpu-node/model/ort-runtime.ts'
import {
  blockSizeFor,
  HEAD_CANDIDATES,
  SamplingHead,
} from '../../../gpu-node/model/sampling-head.ts'
import { createRng } from '../../../gpu-node/text/random.ts'

const GEMMA_VOCAB = 262_400
const heads: SamplingHead[] = []
let node: OrtRuntime
let web: OrtRuntime

beforeAll(async () => {
  node = await openRuntime({ runtime: 'node', device: 'cpu' })
  web = await openRuntime({ runtime: 'web', device: 'wasm' })
})

afterAll(async () => {
  await Promise.all(heads.map((head) => head.release()))
})

async function headOn(runtime: OrtRuntime, type: 'float32' | 'float16', vocab: number) {
  const head = await SamplingHead.create(runtime, type, vocab)
  heads.push(head)
  return head
}

/** The plain TopK: highest value first, ties to the lower id. */
function expectedTop(row: Float32Array, k: number): { ids: number[]; values: number[] } {
  const ids = Array.from(row.keys()).sort((a, b) => row[b]! - row[a]! || a - b)
  const top = ids.slice(0, k)
  return { ids: top, values: top.map((id) => row[id]!) }
}

/**
 * Rows built to be hard: coarse values (many ties, also at the K-th place), a row of equal values, and a
 * row whose best logits crowd into a few neighbouring blocks.
 */
function hardRows(vocab: number): Float32Array[] {
  const rng = createRng(11)
  const coarse = Float32Array.from({ length: vocab }, () => Math.round(rng.next() * 40) / 4 - 5)
  const flat = new Float32Array(vocab).fill(1.5)
  const crowded = Float32Array.from({ length: vocab }, () => rng.next() * 10 - 20)
  for (let id = 1000; id < 1600; id++) crowded[id] = 10 + Math.round(rng.next() * 8) / 2
  return [coarse, flat, crowded]
}

async function checkHead(runtime: OrtRuntime, type: 'float32' | 'float16', vocab: number) {
  const head = await headOn(runtime, type, vocab)
  let rows = hardRows(vocab)
  const flat = new Float32Array(rows.length * vocab)
  rows.forEach((row, r) => flat.set(row, r * vocab))
  const data = type === 'float16' ? float32ToFloat16(flat) : flat
  // What the head sees: float16 rounds the logits, so the expected answer comes from the rounded values.
  if (type === 'float16') {
    const rounded = float16ToFloat32(data as Uint16Array)
    rows = rows.map((_, r) => rounded.subarray(r * vocab, (r + 1) * vocab))
  }
  const got = await head.run(runtime.tensor(type, data, [rows.length, 1, vocab]))
  expect(got).toHaveLength(rows.length)
  rows.forEach((row, r) => {
    const expected = expectedTop(row, head.k)
    expect(Array.from(got[r]!.ids)).toEqual(expected.ids)
    expect(Array.from(got[r]!.logits)).toEqual(expected.values)
  })
  return head
}

describe('block size', () => {
  it('cuts the Gemma vocabulary into 2,050 blocks of 128 ids', () => {
    expect(blockSizeFor(GEMMA_VOCAB, HEAD_CANDIDATES)).toBe(128)
  })

  it('is none when no size divides the vocabulary into enough blocks', () => {
    expect(blockSizeFor(1024, HEAD_CANDIDATES)).toBeNull() // 8 blocks of 128: fewer than 4·K
    expect(blockSizeFor(262_399, HEAD_CANDIDATES)).toBeNull() // prime
  })
})

describe.each([
  ['onnxruntime-node', () => node],
  ['onnxruntime-web', () => web],
])('sampling head on %s', (_, runtimeOf) => {
  it.each(['float32', 'float16'] as const)(
    'two stages at 262,400 ids equal one plain TopK (%s logits)',
    async (type) => {
      const head = await checkHead(runtimeOf(), type, GEMMA_VOCAB)
      expect(head.blockSize).toBe(128)
    },
  )

  it('a vocabulary without a block size gets the plain TopK', async () => {
    const head = await checkHead(runtimeOf(), 'float32', 1024)
    expect(head.blockSize).toBeNull()
  })
})
