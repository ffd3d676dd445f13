/**
 * Gemma's final softcap moved from every logit onto the fused head's candidates must change nothing the
 * runner reads: the candidates are a plain TopK of the softcapped logits, values bit for bit, and whole
 * rows through `Softcap` are the graph's own softcapped logits, bit for bit. Checked on a decoder tail
 * shaped like the export's (`logits = Mul(Tanh(Div(x, 30)), 30)`), through the two-stage head (262,400
 * ids) and the plain one; and left alone where the graph does not end exactly so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GraphBuilder } from '../../../gpu-node/contract-model/onnx-builder.ts'
import { orderTies, Softcap } from '../../../gpu-node/model/deferred-softcap.ts'
import {
  FUSED_HEAD_OUTPUTS,
  fuseSamplingHead,
} from '../../../gpu-node/model/fused-sampling-head.ts'
import { openRuntime } from '../../../gpu-node/model/ort-runtime.ts'
import type { OrtRuntime } from '../../../gpu-node/model/ort-runtime.ts'
import { headPlan, readCandidates } from '../../../gpu-node/model/sampling-head.ts'
import { expectPlainTopK, hardBatch } from './hard-logits.ts'

const CAP = 30
let runtime: OrtRuntime
const releases: (() => Promise<void>)[] = []

beforeAll(async () => {
  runtime = await openRuntime({ runtime: 'node', device: 'cpu' })
})

afterAll(async () => {
  await Promise.all(releases.map((release) => release()))
})

/**
 * `x` → Div(cap) → Tanh → Mul(cap) → `logits`, as the export ends; `tweak` changes it to a graph the
 * rewrite must leave alone.
 */
function softcappedDecoder(
  vocab: number,
  type: 'float32' | 'float16' = 'float32',
  tweak: 'none' | 'tanh read twice' | 'negative cap' | 'sigmoid' = 'none',
): Uint8Array {
  const g = new GraphBuilder(0)
  const dims = ['rows', 'positions', vocab]
  const x = g.input('x', type, dims)
  const constant = (value: number) =>
    type === 'float16' ? g.op('Cast', [g.float([value], [])], { to: 10 }) : g.float([value], [])
  const scaled = g.op('Div', [x, constant(CAP)])
  const squashed = g.op(tweak === 'sigmoid' ? 'Sigmoid' : 'Tanh', [scaled])
  g.op('Mul', [squashed, constant(tweak === 'negative cap' ? -CAP : CAP)], {}, 'logits')
  g.output('logits', type, dims)
  if (tweak === 'tanh read twice') g.output(g.op('Neg', [squashed], {}, 'other'), type, dims)
  return g.encode('decoder', 'unused.onnx_data').model
}

async function session(model: Uint8Array) {
  const created = await runtime.createSessionFromBytes(model)
  releases.push(() => created.release())
  return created
}

describe("Gemma's softcap on the candidates only", () => {
  it.each([262_400, 1024])(
    'gives the candidates and whole rows of the softcapped logits, bit for bit (vocabulary %i)',
    async (vocab) => {
      const plan = headPlan('cpu', vocab)
      const decoder = softcappedDecoder(vocab)
      const fused = fuseSamplingHead(decoder, vocab, plan)!
      expect(fused.softcap).toBe(CAP)
      const { rows, data, dims } = hardBatch(vocab, 'float32')
      const x = runtime.tensor('float32', data, dims)
      const reference = (await (await session(decoder)).run({ x })).logits!
      const capped = reference.data as Float32Array
      const out = await (await session(fused.bytes)).run({ x })
      const candidates = readCandidates(
        { values: out[FUSED_HEAD_OUTPUTS.values]!, ids: out[FUSED_HEAD_OUTPUTS.ids]! },
        plan.k,
      )
      candidates.forEach(orderTies)
      const cappedRows = rows.map((_, r) => capped.subarray(r * vocab, (r + 1) * vocab))
      expectPlainTopK(candidates, cappedRows, plan.k)
      // `logits` now holds the logits before the softcap; a step reading whole rows applies it.
      expect(out.logits!.data).not.toEqual(capped)
      const softcap = await Softcap.create(runtime, fused.softcap!)
      releases.push(() => softcap.release())
      expect((await softcap.apply(out.logits!)).data).toEqual(capped)
    },
  )

  it.each(['tanh read twice', 'negative cap', 'sigmoid'] as const)(
    'leaves a graph that does not end in the softcap as it is (%s)',
    (tweak) => {
      const fused = fuseSamplingHead(
        softcappedDecoder(1024, 'float32', tweak),
        1024,
        headPlan('cpu', 1024),
      )
      expect(fused?.softcap).toBeNull()
    },
  )

  it('leaves float16 logits softcapped in the graph (the head reads them as float32)', () => {
    const fused = fuseSamplingHead(softcappedDecoder(1024, 'float16'), 1024, headPlan('cpu', 1024))
    expect(fused?.softcap).toBeNull()
  })

  it('puts candidates of equal value back in id order', () => {
    const row = {
      ids: Int32Array.from([9, 7, 2, 4, 0]),
      logits: Float32Array.from([5, 3, 3, 3, 1]),
    }
    orderTies(row)
    expect(Array.from(row.ids)).toEqual([9, 2, 4, 7, 0])
    expect(Array.from(row.logits)).toEqual([5, 3, 3, 3, 1])
  })
})
