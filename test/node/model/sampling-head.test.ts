/**
 * @module test/model/sampling-head
 * The sampling head returns exactly what one plain TopK over the whole row returns (the K highest logits,
 * ties to the lower id), on both runtimes, for float32 and float16 logits: through the two-stage graph at
 * the Gemma vocabulary (262,400 ids) and through the plain graph where no block size fits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openRuntime } from '../../../gpu-node/model/ort-runtime.ts'
import type { OrtRuntime } from '../../../gpu-node/model/ort-runtime.ts'
import {
  blockSizeFor,
  HEAD_CANDIDATES,
  SamplingHead,
} from '../../../gpu-node/model/sampling-head.ts'
import { expectPlainTopK, hardBatch } from './hard-logits.ts'

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

async function checkHead(runtime: OrtRuntime, type: 'float32' | 'float16', vocab: number) {
  const head = await headOn(runtime, type, vocab)
  const { rows, data, dims } = hardBatch(vocab, type)
  expectPlainTopK(await head.run(runtime.tensor(type, data, dims)), rows, head.k)
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
