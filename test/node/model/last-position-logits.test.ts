/**
 * @module test/model/last-position-logits
 * The decoder rewrite that slices the lm_head's input: on a generated decoder, `gemma_edge_logits_from`
 * -1 gives the same last-position logits and the same cache as the original graph (fed from the same
 * external data), and LOGITS_FROM_NONE no logits and still the same cache. The rewrite drops recorded
 * shapes that no longer hold. It refuses every graph where cutting would change an answer: a decoder
 * that declares `num_logits_to_keep` (or was rewritten already), an operator that mixes positions, a
 * constant with a position axis, an intermediate read elsewhere, and lm_head weights that are not
 * constants.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import onnxProto from 'onnx-proto'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GraphBuilder } from '../../../gpu-node/contract-model/onnx-builder.ts'
import {
  LOGITS_FROM_INPUT,
  LOGITS_FROM_NONE,
  lastPositionLogits,
} from '../../../gpu-node/model/last-position-logits.ts'
import { makeFolder, tempRoot } from './greedy.ts'

const { onnx } = onnxProto
const SMALL = { vocab: 'small', layers: 4, kvLayers: 2, seed: 3 } as const
const HIDDEN = 8
const VOCAB = 12

let cleanup: () => Promise<void>
let root: string

beforeAll(async () => {
  const temp = await tempRoot('last-position')
  cleanup = temp.cleanup
  root = temp.root
})

afterAll(async () => {
  await cleanup?.()
})

/** Loads decoder bytes whose external data live in `folder`. */
function session(model: Uint8Array, folder: string) {
  const extra = { session: { model_external_initializers_file_folder_path: folder } }
  return ort.InferenceSession.create(model, { extra })
}

/** Feeds for a first prefill of `count` positions (deterministic embeddings, an empty cache). */
function prefillFeeds(decoder: ort.InferenceSession, hidden: number, count: number) {
  const feeds: Record<string, ort.Tensor> = {}
  const meta = new Map(decoder.inputMetadata.map((m) => [m.name, m]))
  const shapeOf = (name: string) => {
    const info = meta.get(name)
    return info && 'shape' in info ? info.shape : []
  }
  const perLayer = shapeOf('per_layer_inputs').slice(2).map(Number)
  feeds.inputs_embeds = new ort.Tensor(
    'float32',
    Float32Array.from({ length: count * hidden }, (_, i) => Math.sin(i * 0.7)),
    [1, count, hidden],
  )
  const perLayerSize = perLayer.reduce((a, b) => a * b, 1)
  feeds.per_layer_inputs = new ort.Tensor(
    'float32',
    Float32Array.from({ length: count * perLayerSize }, (_, i) => Math.cos(i * 0.3)),
    [1, count, ...perLayer],
  )
  const positions = BigInt64Array.from({ length: count }, (_, i) => BigInt(i))
  feeds.position_ids = new ort.Tensor('int64', positions, [1, count])
  feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(count).fill(1n), [1, count])
  for (const name of decoder.inputNames.filter((n) => n.startsWith('past_key_values'))) {
    const [, heads, , dim] = shapeOf(name)
    feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, Number(heads), 0, Number(dim)])
  }
  return feeds
}

describe('on a generated decoder', () => {
  it('gives the last position the same logits (or none), and the cache the same values', async () => {
    const dir = await makeFolder(root, 'plain', SMALL)
    const onnxDir = join(dir, 'onnx')
    const original = new Uint8Array(await readFile(join(onnxDir, 'decoder_model_merged.onnx')))
    const rewritten = lastPositionLogits(original)
    expect(rewritten).not.toBeNull()
    const [before, after] = await Promise.all([
      session(original, onnxDir),
      session(rewritten!, onnxDir),
    ])
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'))
    const hidden = Number(config.text_config.hidden_size)
    const count = 7
    const from = (value: bigint) => ({
      ...prefillFeeds(after, hidden, count),
      [LOGITS_FROM_INPUT]: new ort.Tensor('int64', BigInt64Array.of(value), [1]),
    })
    const [full, last, none] = await Promise.all([
      before.run(prefillFeeds(before, hidden, count)),
      after.run(from(-1n)),
      after.run(from(LOGITS_FROM_NONE)),
    ])
    const vocab = full.logits!.dims[2]!
    expect(last.logits!.dims).toEqual([1, 1, vocab])
    expect(none.logits!.dims).toEqual([1, 0, vocab])
    const lastRow = (full.logits!.data as Float32Array).slice((count - 1) * vocab)
    expect(Array.from(last.logits!.data as Float32Array)).toEqual(Array.from(lastRow))
    for (const name of before.outputNames.filter((n) => n.startsWith('present'))) {
      const expected = Array.from(full[name]!.data as Float32Array)
      expect(Array.from(last[name]!.data as Float32Array), name).toEqual(expected)
      expect(Array.from(none[name]!.data as Float32Array), name).toEqual(expected)
    }
    await Promise.all([before.release(), after.release()])
  })

  it('leaves a decoder that declares num_logits_to_keep alone, and does not rewrite twice', async () => {
    const dir = await makeFolder(root, 'keep', { ...SMALL, logitsToKeep: true })
    const graph = await readFile(join(dir, 'onnx', 'decoder_model_merged.onnx'))
    expect(lastPositionLogits(new Uint8Array(graph))).toBeNull()
    expect(lastPositionLogits(lastPositionLogits(toyHead(softcap))!)).toBeNull()
  })
})

/**
 * A toy decoder head: hidden [1, S, HIDDEN] → MatMul → `shape(g, logits)` → `logits`. `weights` picks
 * where the lm_head's weights come from.
 */
function toyHead(
  shape: (g: GraphBuilder, logits: string) => string,
  weights: 'initializer' | 'input' = 'initializer',
): Uint8Array {
  const g = new GraphBuilder(1)
  const hidden = g.input('hidden', 'float32', [1, 'sequence_length', HIDDEN])
  const w =
    weights === 'input'
      ? g.input('lm_head', 'float32', [HIDDEN, VOCAB])
      : g.weight('lm_head', [HIDDEN, VOCAB], 0.5)
  g.op('Identity', [shape(g, g.op('MatMul', [hidden, w]))], {}, 'logits')
  g.output('logits', 'float32', [1, 'sequence_length', VOCAB])
  return g.encode('toy', 'toy.onnx_data').model
}

const softcap = (g: GraphBuilder, x: string) =>
  g.op('Mul', [g.op('Tanh', [g.op('Div', [x, g.float([30], [])])]), g.float([30], [])])

describe('on toy heads', () => {
  it('cuts a softcapped lm_head and keeps the last position exact', async () => {
    const original = toyHead(softcap)
    const rewritten = lastPositionLogits(original)
    expect(rewritten).not.toBeNull()
    const count = 5
    const hidden = new ort.Tensor(
      'float32',
      Float32Array.from({ length: count * HIDDEN }, (_, i) => Math.sin(i)),
      [1, count, HIDDEN],
    )
    const [before, after] = await Promise.all([
      ort.InferenceSession.create(original),
      ort.InferenceSession.create(rewritten!),
    ])
    const full = (await before.run({ hidden })).logits!
    const from = new ort.Tensor('int64', BigInt64Array.of(-1n), [1])
    const last = (await after.run({ hidden, [LOGITS_FROM_INPUT]: from })).logits!
    expect(last.dims).toEqual([1, 1, VOCAB])
    expect(Array.from(last.data as Float32Array)).toEqual(
      Array.from((full.data as Float32Array).slice((count - 1) * VOCAB)),
    )
  })

  it.each([
    [
      'an operator that mixes positions',
      (g: GraphBuilder, x: string) => g.op('CumSum', [x, g.int64([1], [])]),
    ],
    [
      'a constant with a position axis',
      (g: GraphBuilder, x: string) =>
        g.op('Add', [x, g.float(new Float32Array(4 * VOCAB), [1, 4, VOCAB])]),
    ],
    [
      'an intermediate that something else reads',
      (g: GraphBuilder, x: string) => {
        const capped = softcap(g, x)
        g.op('Identity', [x], {}, 'raw_logits')
        g.output('raw_logits', 'float32', [1, 'sequence_length', VOCAB])
        return capped
      },
    ],
  ])('refuses %s', (_, shape) => {
    expect(lastPositionLogits(toyHead(shape))).toBeNull()
  })

  it('drops the shapes an exporter recorded between the lm_head and logits', () => {
    const model = onnx.ModelProto.decode(toyHead(softcap))
    const graph = model.graph!
    const onPath = graph.node!.find((node) => node.opType === 'MatMul')!.output![0]!
    const shape = { dim: [{ dimValue: 1 }, { dimValue: 5 }, { dimValue: VOCAB }] }
    graph.valueInfo = [{ name: onPath, type: { tensorType: { elemType: 1, shape } } }]
    const rewritten = lastPositionLogits(onnx.ModelProto.encode(model).finish())!
    expect(onnx.ModelProto.decode(rewritten).graph!.valueInfo ?? []).toEqual([])
  })

  it('refuses lm_head weights that are not constants', () => {
    expect(lastPositionLogits(toyHead(softcap, 'input'))).toBeNull()
  })
})
