/**
 * @module
 * Gemma's final logit softcap, `logits = tanh(x / 30) · 30`, applied to the sampling head's K candidates
 * instead of to every logit. On the CPU the Tanh and the Mul over [rows, 262,400] were a third of a
 * 16-row decoder run of the default contract model (profiled: 4.1 + 1.2 of 16.9 ms), and the head reads K
 * values per row. Exact: tanh · cap (cap > 0) never reverses an order, so the top K of the logits before
 * the softcap are the top K after it, and the same two operators applied to those K values give the same
 * numbers. One difference is left: two logits that differ before the softcap but round to one value after
 * it come out ordered by their values before it rather than by id. `orderTies` puts such runs back in id
 * order; only at the K-th candidate can such a tie change which id is in the set.
 *
 * `deferSoftcap` rewrites the decoder graph so that its `logits` output holds the logits before the
 * softcap; a step that reads whole rows applies it to them (`Softcap`: the same two operators in a session
 * of their own). It applies only where the graph ends exactly so: `logits` = Mul(Tanh(u), c) with c a
 * positive scalar constant, and nothing else reads the Tanh's output.
 */
import type onnxProto from 'onnx-proto'
import { GraphBuilder } from '../contract-model/onnx-builder.ts'
import type { InferenceSession, OrtRuntime, Tensor } from './ort-runtime.ts'
import type { RowCandidates } from './sampling-head.ts'
import { sessionRun } from './session-run.ts'

type Graph = onnxProto.onnx.IGraphProto
type Node = onnxProto.onnx.INodeProto
type TensorProto = onnxProto.onnx.ITensorProto

const FLOAT = 1

/**
 * Takes the softcap off the graph's `logits` (the graph is changed in place) and returns its cap, or
 * `null` (the graph untouched) where the graph does not end in one.
 */
export function deferSoftcap(graph: Graph): number | null {
  const nodes = graph.node ?? []
  const producers = new Map<string, Node>()
  const readers = new Map<string, Node[]>()
  for (const node of nodes) {
    for (const output of node.output ?? []) producers.set(output, node)
    for (const input of node.input ?? []) readers.set(input, [...(readers.get(input) ?? []), node])
  }
  const outputs = new Set((graph.output ?? []).map((output) => output.name))
  const mul = producers.get('logits')
  if (mul?.opType !== 'Mul' || mul.input?.length !== 2 || readers.has('logits')) return null
  const tanh = mul.input.map((name) => producers.get(name)).find((node) => node?.opType === 'Tanh')
  const capped = tanh?.output?.[0]
  const uncapped = tanh?.input?.[0]
  if (!tanh || !capped || !uncapped || outputs.has(capped) || outputs.has(uncapped)) return null
  if (readers.get(capped)!.length !== 1) return null
  const cap = scalarFloat(graph, producers, mul.input.find((name) => name !== capped) ?? '')
  if (cap === null || !(cap > 0) || !Number.isFinite(cap)) return null

  graph.node = nodes.filter((node) => node !== tanh && node !== mul)
  const producer = producers.get(uncapped)
  if (producer) {
    // The tensor before the softcap becomes `logits` itself: no copy into a new output.
    producer.output = producer.output!.map((name) => (name === uncapped ? 'logits' : name))
    for (const reader of readers.get(uncapped) ?? [])
      reader.input = reader.input!.map((name) => (name === uncapped ? 'logits' : name))
  } else {
    graph.node.push({
      opType: 'Identity',
      name: 'gemma_edge_uncapped',
      input: [uncapped],
      output: ['logits'],
    })
  }
  // Shapes recorded for the tensors that are gone or renamed would now describe nothing, or clash.
  const stale = new Set([uncapped, capped, 'logits'])
  graph.valueInfo = (graph.valueInfo ?? []).filter((info) => !stale.has(info.name ?? ''))
  return cap
}

/** The value of a one-element float32 constant (an initializer or a Constant node), else `null`. */
function scalarFloat(graph: Graph, producers: Map<string, Node>, name: string): number | null {
  const init = graph.initializer?.find((tensor) => tensor.name === name)
  if (init) return tensorScalar(init)
  const node = producers.get(name)
  if (node?.opType !== 'Constant') return null
  const attribute = node.attribute?.[0]
  if (attribute?.name === 'value_float') return attribute.f ?? null
  return attribute?.name === 'value' && attribute.t ? tensorScalar(attribute.t) : null
}

function tensorScalar(tensor: TensorProto): number | null {
  if (tensor.dataType !== FLOAT) return null
  if ((tensor.dims ?? []).reduce((n: number, d) => n * Number(d), 1) !== 1) return null
  if (tensor.floatData?.length) return tensor.floatData[0]!
  const raw = tensor.rawData
  return raw && raw.length === 4
    ? new DataView(raw.buffer, raw.byteOffset, 4).getFloat32(0, true)
    : null
}

/**
 * Puts each run of equal candidate values in id order, as a TopK of the softcapped logits has them
 * (values are highest first, so equal ones are next to each other). In place; no work without ties.
 */
export function orderTies({ ids, logits }: RowCandidates): void {
  for (let i = 1; i < ids.length; i++) {
    const value = logits[i]!
    const id = ids[i]!
    let j = i - 1
    while (j >= 0 && logits[j] === value && ids[j]! > id) {
      ids[j + 1] = ids[j]!
      j--
    }
    ids[j + 1] = id
  }
}

/** The softcap as a session of its own, for the whole rows of a step that reads them. */
export class Softcap {
  readonly #session: InferenceSession

  private constructor(session: InferenceSession) {
    this.#session = session
  }

  static async create(runtime: OrtRuntime, cap: number): Promise<Softcap> {
    const g = new GraphBuilder(0)
    const dims = ['rows', 'positions', 'vocab']
    const x = g.input('x', 'float32', dims)
    g.output(g.op('Mul', [g.op('Tanh', [x]), g.float([cap], [])], {}, 'y'), 'float32', dims)
    const model = g.encode('softcap', 'unused.onnx_data').model
    return new Softcap(await runtime.createSessionFromBytes(model))
  }

  /**
   * The logits after the softcap, in host memory also when `logits` are on the device (the caller
   * disposes `logits` and the result).
   */
  async apply(logits: Tensor): Promise<Tensor> {
    return (await sessionRun('softcap', this.#session, { x: logits })).y!
  }

  release(): Promise<void> {
    return this.#session.release()
  }
}
