/**
 * @module
 * The sampling head (sampling-head.ts) appended to the decoder's own graph: the decoder call then returns
 * each row's top K candidates beside `logits`, and the logits stay inside the session unless a step asks
 * for them (a penalty or top-k off may need the whole row: candidate-sampler.ts `readsFullRow`).
 *
 * Why: as a session of its own, the head needs the logits out of the decoder first. On the CPU that is a
 * copy of [rows, 262,400] floats per step (16.8 MB at 16 rows) and a second session call; on CUDA a
 * device-to-host copy and a host-to-device one; on WebGPU a download. Measured on the default contract
 * model, 2-core VM, a runner decode step: 17.3 → 13.5 ms at 16 rows, 9.0 → 7.3 ms at 4 and 6.7 → 4.6 ms
 * at 1, with the same tokens.
 *
 * The head's nodes and constants get a prefix of their own and read the graph's `logits` output. Where
 * the graph ends in Gemma's softcap (float32 logits), the softcap moves onto the head's K values
 * (deferred-softcap.ts), and `logits` then holds the logits before it; nothing else in the graph changes.
 * Not fused (`null`): a graph without a `logits` output, one whose logits rows are not `vocab` wide, an
 * opset older than the head's operators need, or names that already use the prefix. The runner then runs
 * the head on its own.
 */
import onnxProto from 'onnx-proto'
import { deferSoftcap } from './deferred-softcap.ts'
import { buildSamplingHead, HEAD_MIN_OPSET, HEAD_OUTPUTS } from './sampling-head.ts'
import type { HeadPlan } from './sampling-head.ts'
import type { TensorType } from './ort-runtime.ts'

const { onnx } = onnxProto

const PREFIX = 'gemma_edge_head/'

/** The outputs a fused decoder adds, by role. */
export const FUSED_HEAD_OUTPUTS = {
  values: `${PREFIX}${HEAD_OUTPUTS.values}`,
  ids: `${PREFIX}${HEAD_OUTPUTS.ids}`,
} as const

/** ONNX element types of a `logits` output the head reads. */
const LOGITS_TYPES: Readonly<Record<number, TensorType>> = { 1: 'float32', 10: 'float16' }

export interface FusedDecoder {
  /** The decoder graph (`.onnx` bytes) with the head fused in. */
  bytes: Uint8Array
  /** The softcap moved onto the head's values: `logits` holds the logits before it. `null`: not moved. */
  softcap: number | null
}

/** The decoder graph with the head fused in, or `null` when it cannot be. */
export function fuseSamplingHead(
  decoder: Uint8Array,
  vocab: number,
  plan: HeadPlan,
): FusedDecoder | null {
  const model = onnx.ModelProto.decode(decoder)
  const graph = model.graph
  if (!graph?.node || !graph.output) return null
  const opset = Number(
    model.opsetImport?.find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0,
  )
  if (opset < HEAD_MIN_OPSET) return null
  const logits = graph.output.find((output) => output.name === 'logits')
  const logitsType = LOGITS_TYPES[logits?.type?.tensorType?.elemType ?? 0]
  if (!logitsType || usesPrefix(graph)) return null
  // The head reshapes the logits to rows of `vocab`: a graph that says its rows are another width is left
  // alone (the runner's separate head would then fail loudly instead of reading misaligned rows).
  const last = logits?.type?.tensorType?.shape?.dim?.at(-1)
  const width = last && !last.dimParam ? Number(last.dimValue ?? 0) : 0 // 0: not stated
  if (width > 0 && width !== vocab) return null

  const softcap = logitsType === 'float32' ? deferSoftcap(graph) : null
  const head = onnx.ModelProto.decode(
    buildSamplingHead(logitsType, vocab, plan, opset, softcap),
  ).graph!
  const rename = (name: string) => (name === 'logits' || name === '' ? name : PREFIX + name)
  for (const node of head.node ?? []) {
    node.name = PREFIX + (node.name ?? '')
    node.input = (node.input ?? []).map(rename)
    node.output = (node.output ?? []).map(rename)
  }
  for (const init of head.initializer ?? []) init.name = rename(init.name ?? '')
  for (const output of head.output ?? []) {
    output.name = rename(output.name ?? '')
    // Symbolic dims of the same name are taken to be equal across a graph: keep the head's its own.
    for (const dim of output.type?.tensorType?.shape?.dim ?? [])
      if (dim.dimParam) dim.dimParam = PREFIX + dim.dimParam
  }
  // Appended after every existing node, so the graph stays topologically sorted.
  graph.node.push(...(head.node ?? []))
  graph.initializer = [...(graph.initializer ?? []), ...(head.initializer ?? [])]
  graph.output.push(...(head.output ?? []))
  return { bytes: onnx.ModelProto.encode(model).finish(), softcap }
}

function usesPrefix(graph: onnxProto.onnx.IGraphProto): boolean {
  const names = [
    ...(graph.node ?? []).flatMap((node) => [...(node.output ?? []), node.name ?? '']),
    ...(graph.initializer ?? []).map((init) => init.name ?? ''),
    ...(graph.input ?? []).map((input) => input.name ?? ''),
  ]
  return names.some((name) => name.startsWith(PREFIX))
}
