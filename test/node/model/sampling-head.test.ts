/**
 * @module test/model/sampling-head
 * The sampling head returns exactly what one plain TopK over the whole row returns (the K highest logits,
 * ties to the lower id), on both runtimes, for float32 and float16 logits: through the two-stage graph at
 * the Gemma vocabulary (262,400 ids) and through the plain graph where no block size fits. On WebGPU both
 * graphs also run without a single node on the CPU (a CPU node there means a round trip every step).
 */
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openRuntime } from '../../../gpu-node/model/ort-runtime.ts'
import type { OrtRuntime } from '../../../gpu-node/model/ort-runtime.ts'
import {
  blockSizeFor,
  buildSamplingHead,
  HEAD_CANDIDATES,
  headPlan,
  readCandidates,
  SamplingHead,
} from '../../../gpu-node/model/sampling-head.ts'
import { WEBGPU_MISSING, webgpuAvailable } from '../../support/webgpu.ts'
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

  it('is taken on the CPU devices and WebGPU, not on CUDA (its plain TopK is unmeasured against it)', () => {
    for (const device of ['cpu', 'wasm', 'webgpu'] as const)
      expect(headPlan(device, GEMMA_VOCAB).blockSize).toBe(128)
    expect(headPlan('cuda', GEMMA_VOCAB).blockSize).toBeNull()
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

const WEBGPU = await webgpuAvailable()
if (!WEBGPU) console.warn(`Skipping the WebGPU sampling head tests: ${WEBGPU_MISSING}.`)

describe.skipIf(!WEBGPU)('sampling head on WebGPU (onnxruntime-node)', () => {
  it.each([
    ['two stages', 'float32', GEMMA_VOCAB],
    ['two stages', 'float16', GEMMA_VOCAB],
    ['plain', 'float32', 1024],
  ] as const)(
    '%s (%s logits): every node on the device, the plain TopK answer',
    async (_, type, vocab) => {
      const plan = headPlan('webgpu', vocab)
      // Session creation fails if any node would run on the CPU provider.
      const session = await ort.InferenceSession.create(buildSamplingHead(type, vocab, plan, 17), {
        executionProviders: ['webgpu'],
        extra: { session: { disable_cpu_ep_fallback: '1' } },
      })
      try {
        const { rows, data, dims } = hardBatch(vocab, type)
        const out = await session.run({ logits: new ort.Tensor(type, data, dims) })
        expectPlainTopK(
          readCandidates({ values: out.values!, ids: out.ids! }, plan.k),
          rows,
          plan.k,
        )
      } finally {
        await session.release()
      }
    },
  )
})
