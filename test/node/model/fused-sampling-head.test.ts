/**
 * The sampling head fused into a decoder graph returns what the head returns on its own: the K highest
 * logits of each row, ties to the lower id, for float32 and float16 logits, through the two-stage graph
 * (262,400 ids) and the plain one; for every opset the head is written for (ReduceMax changed form at 18).
 * It leaves the graph's own outputs alone, survives a call whose logits have no position (a prompt chunk's
 * empty lm_head, which crashed onnxruntime's CPU TopK before the head padded its rows), and is refused
 * where it cannot work. The "decoder" here is an Identity from an input to `logits`, so the rows fed are
 * exactly the logits the head sees.
 */
import onnxProto from 'onnx-proto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GraphBuilder } from '../../../gpu-node/contract-model/onnx-builder.ts'
import {
  FUSED_HEAD_OUTPUTS,
  fuseSamplingHead,
} from '../../../gpu-node/model/fused-sampling-head.ts'
import { openRuntime } from '../../../gpu-node/model/ort-runtime.ts'
import type { InferenceSession, OrtRuntime } from '../../../gpu-node/model/ort-runtime.ts'
import { headPlan, readCandidates } from '../../../gpu-node/model/sampling-head.ts'
import type { HeadPlan } from '../../../gpu-node/model/sampling-head.ts'
import { expectedTop, expectPlainTopK, hardBatch } from './hard-logits.ts'

const { onnx } = onnxProto
const GEMMA_VOCAB = 262_400
const SMALL_VOCAB = 1024

let runtime: OrtRuntime
const sessions: InferenceSession[] = []

beforeAll(async () => {
  runtime = await openRuntime({ runtime: 'node', device: 'cpu' })
})

afterAll(async () => {
  await Promise.all(sessions.map((session) => session.release()))
})

/** `x` → Identity → `logits` (and `x` → Neg → `other`, an output the fusion must leave alone). */
function identityDecoder(
  type: 'float32' | 'float16',
  vocab: number | string,
  opset = 17,
): Uint8Array {
  const g = new GraphBuilder(0)
  const x = g.input('x', type, ['rows', 'positions', vocab])
  g.op('Identity', [x], {}, 'logits')
  g.op('Neg', [x], {}, 'other')
  g.output('logits', type, ['rows', 'positions', vocab])
  g.output('other', type, ['rows', 'positions', vocab])
  return withOpset(g.encode('decoder', 'unused.onnx_data').model, opset)
}

function withOpset(model: Uint8Array, opset: number): Uint8Array {
  const decoded = onnx.ModelProto.decode(model)
  decoded.opsetImport = [{ domain: '', version: opset }]
  return onnx.ModelProto.encode(decoded).finish()
}

async function fusedSession(decoder: Uint8Array, vocab: number, plan: HeadPlan) {
  const fused = fuseSamplingHead(decoder, vocab, plan)
  expect(fused).not.toBeNull()
  const session = await runtime.createSessionFromBytes(fused!.bytes)
  sessions.push(session)
  return session
}

async function checkFused(type: 'float32' | 'float16', vocab: number, opset: number) {
  const plan = headPlan('cpu', vocab)
  const session = await fusedSession(identityDecoder(type, vocab, opset), vocab, plan)
  const { rows, data, dims } = hardBatch(vocab, type)
  const out = await session.run({ x: runtime.tensor(type, data, dims) })
  const { values, ids } = FUSED_HEAD_OUTPUTS
  expectPlainTopK(readCandidates({ values: out[values]!, ids: out[ids]! }, plan.k), rows, plan.k)
  // The graph's own outputs are untouched.
  expect(out.logits!.data).toEqual(data)
  expect(out.other!.dims).toEqual([rows.length, 1, vocab])
  return plan
}

describe('the sampling head fused into a decoder graph', () => {
  it.each([
    ['float32', 17],
    ['float16', 17],
    ['float32', 13],
    ['float32', 18],
  ] as const)(
    'two stages at 262,400 ids equal one plain TopK (%s logits, opset %i)',
    async (type, opset) => {
      const plan = await checkFused(type, GEMMA_VOCAB, opset)
      expect(plan.blockSize).toBe(128)
    },
  )

  it('a vocabulary without a block size gets the plain TopK', async () => {
    const plan = await checkFused('float32', SMALL_VOCAB, 17)
    expect(plan.blockSize).toBeNull()
  })

  it.each([GEMMA_VOCAB, SMALL_VOCAB])(
    'returns no candidates for logits without a position (vocabulary %i)',
    async (vocab) => {
      const plan = headPlan('cpu', vocab)
      const session = await fusedSession(identityDecoder('float32', vocab), vocab, plan)
      const x = runtime.tensor('float32', new Float32Array(0), [1, 0, vocab])
      const out = await session.run({ x })
      expect(out[FUSED_HEAD_OUTPUTS.values]!.dims).toEqual([0, plan.k])
      expect(out[FUSED_HEAD_OUTPUTS.ids]!.dims).toEqual([0, plan.k])
    },
  )

  it('takes logits whose width the graph leaves symbolic', async () => {
    const plan = headPlan('cpu', SMALL_VOCAB)
    const session = await fusedSession(identityDecoder('float32', 'vocab'), SMALL_VOCAB, plan)
    const row = Float32Array.from({ length: SMALL_VOCAB }, (_, id) => (id * 7919) % 1013)
    const out = await session.run({ x: runtime.tensor('float32', row, [1, 1, SMALL_VOCAB]) })
    const [got] = readCandidates(
      { values: out[FUSED_HEAD_OUTPUTS.values]!, ids: out[FUSED_HEAD_OUTPUTS.ids]! },
      plan.k,
    )
    expect(Array.from(got!.ids)).toEqual(expectedTop(row, plan.k).ids)
  })

  it('is refused where it cannot work', () => {
    const plan = headPlan('cpu', SMALL_VOCAB)
    // Unsqueeze takes its axes as an input from opset 13 only.
    expect(
      fuseSamplingHead(identityDecoder('float32', SMALL_VOCAB, 12), SMALL_VOCAB, plan),
    ).toBeNull()
    // No `logits` output to read.
    const g = new GraphBuilder(0)
    g.output(g.op('Identity', [g.input('x', 'float32', [1])], {}, 'y'), 'float32', [1])
    expect(fuseSamplingHead(g.encode('other', 'unused').model, SMALL_VOCAB, plan)).toBeNull()
    // Rows of another width than the vocabulary.
    expect(
      fuseSamplingHead(identityDecoder('float32', SMALL_VOCAB + 1), SMALL_VOCAB, plan),
    ).toBeNull()
    // Already fused: the prefix is taken.
    const once = fuseSamplingHead(identityDecoder('float32', SMALL_VOCAB), SMALL_VOCAB, plan)!
    expect(fuseSamplingHead(once.bytes, SMALL_VOCAB, plan)).toBeNull()
  })
})
