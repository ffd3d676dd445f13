/**
 * @module
 * A decoder that declares no `num_logits_to_keep` computes the lm_head for every position it is fed: for a
 * prompt chunk of 256 tokens that is 256 × 262,400 logits (268 MB in float32, and 262,400 × 2,048
 * multiply-adds per position at E2B's width), although the runner never reads a prompt position's logits
 * (it feeds every sequence's last token as a one-token step; gemma3n-runner.ts). This rewrites the graph
 * so the lm_head sees only the positions from a new int64 [1] input, `gemma_edge_logits_from`, on: a Slice
 * goes in front of the lm_head's MatMul. The runner feeds -1 to a decode step (the last position, what
 * `num_logits_to_keep = 1` does in transformers: [batch, 1, vocab], the same values as before) and
 * LOGITS_FROM_NONE to a prompt chunk on the CPU devices (an empty slice: the lm_head does no work at all).
 *
 * The rewrite is checked, not assumed: from the `logits` output back to the lm_head, every node must work
 * position by position (elementwise, with constant operands that have no position axis, such as the tanh
 * softcap's 30), and the lm_head must be a MatMul (or MatMulNBits) of the hidden states by constant
 * weights. Anything else (a graph that declares `num_logits_to_keep`, an intermediate read elsewhere, an
 * unknown operator) leaves the graph as it is: `null`.
 *
 * Measured on the default contract model (hidden 64, where the lm_head is most of the work), one CPU core:
 * a 17-token prompt chunk 12.2 ms as exported, 3.5 ms with the last position's logits, about 0.6 ms with
 * none (the runner's first step for that prompt, with its first token's decode: 12.8 → 4.8 ms). The
 * `GPU_NODE_PREFILL_CHUNK` caveat in the README is about decoders this cannot rewrite.
 */
import onnxProto from 'onnx-proto'

const { onnx } = onnxProto
type Graph = onnxProto.onnx.IGraphProto
type Node = onnxProto.onnx.INodeProto

/** Elementwise operators with one operand on the path (the others constants). */
const ELEMENTWISE_BINARY = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min'])
/** Elementwise operators of one operand. */
const ELEMENTWISE_UNARY = new Set([
  'Tanh',
  'Cast',
  'Identity',
  'Neg',
  'Relu',
  'Sigmoid',
  'Softplus',
])
/** What the lm_head may be: the hidden states (input 0) times constant weights (input 1 on). */
const LM_HEAD = new Set(['MatMul', 'MatMulNBits'])
/** Slice with `axes` and negative indices needs opset 11 (Slice-11). */
const MIN_OPSET = 11
const INT64 = 7

/** The input the rewrite adds: the first position (Slice semantics, -1 = the last) that gets logits. */
export const LOGITS_FROM_INPUT = 'gemma_edge_logits_from'
/** Fed as `gemma_edge_logits_from`: past every position, so no position gets logits. */
export const LOGITS_FROM_NONE = 9223372036854775807n

/** The decoder graph with `gemma_edge_logits_from`, or `null` when the rewrite cannot be done safely. */
export function lastPositionLogits(model: Uint8Array): Uint8Array | null {
  const decoded = onnx.ModelProto.decode(model)
  const graph = decoded.graph
  if (!graph?.node || !graph.output) return null
  const opset = decoded.opsetImport?.find((o) => !o.domain || o.domain === 'ai.onnx')?.version
  if (Number(opset ?? 0) < MIN_OPSET) return null
  const declared = new Set(graph.input?.map((input) => input.name))
  if (declared.has('num_logits_to_keep') || declared.has(LOGITS_FROM_INPUT)) return null
  const found = findLmHead(graph)
  if (!found) return null
  const { head, path } = found
  // Shapes an exporter recorded for the tensors between the lm_head and `logits` no longer hold.
  graph.valueInfo = (graph.valueInfo ?? []).filter((info) => !path.includes(info.name ?? ''))

  const hidden = head.input![0]!
  const last = uniqueName(graph, `${hidden}_last_position`)
  graph.initializer ??= []
  const constant = (suffix: string, value: bigint) => {
    const name = uniqueName(graph, `${last}_${suffix}`)
    const rawData = new Uint8Array(BigInt64Array.of(value).buffer) // little-endian, as ONNX stores it
    graph.initializer!.push({ name, dims: [1], dataType: INT64, rawData })
    return name
  }
  const slice: Node = {
    opType: 'Slice',
    name: uniqueName(graph, 'gemma_edge_last_position'),
    input: [
      hidden,
      LOGITS_FROM_INPUT,
      constant('ends', LOGITS_FROM_NONE),
      constant('axes', -2n), // the sequence axis of [batch, sequence, hidden]
    ],
    output: [last],
  }
  head.input![0] = last
  // Nodes must stay topologically sorted: the Slice goes right before the lm_head.
  graph.node.splice(graph.node.indexOf(head), 0, slice)
  graph.input!.push({
    name: LOGITS_FROM_INPUT,
    type: { tensorType: { elemType: INT64, shape: { dim: [{ dimValue: 1 }] } } },
  })
  const logits = graph.output.find((output) => output.name === 'logits')!
  const dims = logits.type?.tensorType?.shape?.dim
  if (dims?.length === 3) dims[1] = { dimParam: 'logits_positions' }
  return onnx.ModelProto.encode(decoded).finish()
}

/**
 * The lm_head node, when everything between it and `logits` works position by position, and the tensors
 * on that path (from the lm_head's output to `logits`).
 */
function findLmHead(graph: Graph): { head: Node; path: string[] } | null {
  const producers = new Map<string, Node>()
  const readers = new Map<string, number>()
  for (const node of graph.node!) {
    for (const output of node.output ?? []) producers.set(output, node)
    for (const input of node.input ?? []) readers.set(input, (readers.get(input) ?? 0) + 1)
  }
  const outputs = new Set((graph.output ?? []).map((output) => output.name))
  const constants = constantTensors(graph, producers)
  let tensor = 'logits'
  const path = [tensor]
  for (let depth = 0; depth < 16; depth++) {
    const node = producers.get(tensor)
    if (!node || (node.output?.length ?? 0) !== 1) return null
    const inputs = node.input ?? []
    if (LM_HEAD.has(node.opType ?? '')) {
      const [states, ...weights] = inputs
      const ok = states && !constants.has(states) && weights.every((w) => !w || constants.has(w))
      return ok ? { head: node, path } : null
    }
    const dynamic = inputs.filter((input) => !constants.has(input))
    if (dynamic.length !== 1) return null
    const elementwise = ELEMENTWISE_UNARY.has(node.opType ?? '')
      ? inputs.length === 1
      : ELEMENTWISE_BINARY.has(node.opType ?? '') &&
        inputs.every((input) => !constants.has(input) || positionFree(constants.get(input)!))
    if (!elementwise) return null
    tensor = dynamic[0]!
    path.push(tensor)
    // A tensor on the path that something else reads (or the graph returns) would be cut short too.
    if (readers.get(tensor) !== 1 || outputs.has(tensor)) return null
  }
  return null
}

/** Constant tensors by name, with their shapes: initializers and the outputs of Constant nodes. */
function constantTensors(graph: Graph, producers: Map<string, Node>): Map<string, number[]> {
  const constants = new Map<string, number[]>()
  for (const init of graph.initializer ?? [])
    constants.set(init.name!, (init.dims ?? []).map(Number))
  for (const [name, node] of producers) {
    if (node.opType !== 'Constant') continue
    const value = node.attribute?.find((a) => a.name === 'value')?.t
    constants.set(name, (value?.dims ?? []).map(Number))
  }
  return constants
}

/** A constant operand that cannot carry a sequence axis: a scalar, a vector, or 1s before the last. */
function positionFree(dims: number[]): boolean {
  return dims.length <= 1 || dims.slice(0, -1).every((d) => d === 1)
}

function uniqueName(graph: Graph, base: string): string {
  const taken = new Set<string>()
  for (const node of graph.node ?? []) {
    for (const name of [...(node.input ?? []), ...(node.output ?? []), node.name ?? ''])
      taken.add(name)
  }
  for (const init of graph.initializer ?? []) taken.add(init.name ?? '')
  let name = base
  for (let i = 1; taken.has(name); i++) name = `${base}_${i}`
  return name
}
