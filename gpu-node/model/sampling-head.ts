/**
 * @module
 * A small ONNX graph run on the decoder's logits, on the same device: the top K of each row's single
 * position. JavaScript then samples among K candidates (text/candidate-sampler.ts) instead of scanning the
 * 262,400 logits of every sequence every step, which was most of the JavaScript time per decode step. The
 * runner appends it to the decoder graph itself where it can (fused-sampling-head.ts), and runs it as a
 * session of its own (`SamplingHead`) where it cannot.
 *
 * For a large vocabulary the graph finds the top K in two stages. The vocabulary is cut into blocks of B
 * ids; the K blocks with the highest maxima are kept, and TopK runs on those K·B logits only. Exact: an id
 * in the top K has fewer than K better ids, so fewer than K blocks have a better maximum than its own block.
 * The kept blocks are put back in id order first, so ties still go to the lower id, as with a plain TopK.
 * Measured on one CPU core at 262,400 ids (B = 128): 0.46 → 0.11 ms for 1 row, 3.9 → 3.4 ms for 16 rows.
 * On webgpu too: onnxruntime's WebGPU TopK is a bitonic sort of the whole row (about 170 passes over 262,400
 * values), and two stages sort 8 times less. On Mesa's software Vulkan driver (lavapipe, the only WebGPU
 * adapter it was measured on) 16 rows took 7.4 s plain and 0.5 s in two stages, same ids; every node of
 * both graphs runs on the WebGPU provider (tested). cuda keeps the plain graph, unmeasured either way.
 */
import { GraphBuilder } from '../contract-model/onnx-builder.ts'
import { isCpuDevice } from './ort-runtime.ts'
import type { DeviceName, InferenceSession, OrtRuntime, Tensor, TensorType } from './ort-runtime.ts'
import { sessionRun } from './session-run.ts'

/** Candidates per row: covers the usual top_k (Gemma's default is 64) with room for penalised ids. */
export const HEAD_CANDIDATES = 256

/** Block sizes to try, best first (measured at 262,400 ids: 128 beat 64, 160 and 256). */
const BLOCK_SIZES = [128, 160, 100, 200, 80, 256, 64]

export interface RowCandidates {
  ids: Int32Array
  logits: Float32Array
}

/** The head's outputs, by role; their names in a graph of its own (a fused graph prefixes them). */
export const HEAD_OUTPUTS = { values: 'values', ids: 'ids' } as const

/** How a head finds the top K: the candidates per row and the block size (`null`: one plain TopK). */
export interface HeadPlan {
  k: number
  blockSize: number | null
  /**
   * Whether each TopK gets one dummy row appended (and its result row dropped): onnxruntime's CPU TopK
   * crashes the process (SIGFPE) on zero rows, which the fused head gets on the CPU devices from a prompt
   * chunk whose lm_head computes no position (last-position-logits.ts).
   */
  padRows: boolean
}

/** The plan for `vocab` logits on `device`: two stages except on cuda (see the module comment). */
export function headPlan(device: DeviceName, vocab: number): HeadPlan {
  const k = Math.min(HEAD_CANDIDATES, vocab)
  const cpu = isCpuDevice(device)
  return { k, blockSize: device === 'cuda' ? null : blockSizeFor(vocab, k), padRows: cpu }
}

/**
 * Per-row views of a head's outputs (`values` and `ids` of HEAD_OUTPUTS): no copy, no conversion, as this
 * runs every decode step for every row. The graph hands the ids back as int32 vocabulary ids for that
 * reason (reading int64 positions and mapping them in JavaScript cost a quarter of a millisecond per step
 * at 16 rows).
 */
export function readCandidates(
  outputs: { values: Tensor; ids: Tensor },
  k: number,
): RowCandidates[] {
  const values = outputs.values.data as Float32Array
  const ids = outputs.ids.data as Int32Array
  const rows = outputs.values.dims[0]!
  return Array.from({ length: rows }, (_, r) => ({
    ids: ids.subarray(r * k, (r + 1) * k),
    logits: values.subarray(r * k, (r + 1) * k),
  }))
}

/** The head as a session of its own, for a decoder it could not be fused into (fused-sampling-head.ts). */
export class SamplingHead {
  readonly #session: InferenceSession
  readonly plan: HeadPlan

  private constructor(session: InferenceSession, plan: HeadPlan) {
    this.#session = session
    this.plan = plan
  }

  get k(): number {
    return this.plan.k
  }

  get blockSize(): number | null {
    return this.plan.blockSize
  }

  static async create(
    runtime: OrtRuntime,
    logitsType: TensorType,
    vocab: number,
    plan: HeadPlan = headPlan(runtime.device, vocab),
  ): Promise<SamplingHead> {
    const model = buildSamplingHead(logitsType, vocab, plan, OWN_OPSET)
    return new SamplingHead(await runtime.createSessionFromBytes(model), plan)
  }

  /** `logits` [rows, 1, vocab] → per row, the top K, highest first (ties: lower id first). */
  async run(logits: Tensor): Promise<RowCandidates[]> {
    const out = await sessionRun('sampling head', this.#session, { logits })
    const result = readCandidates({ values: out.values!, ids: out.ids! }, this.plan.k)
    for (const tensor of Object.values(out)) tensor.dispose()
    return result
  }

  release(): Promise<void> {
    return this.#session.release()
  }
}

/** A block size that divides `vocab` into at least 4·K blocks (else two stages save nothing), or `null`. */
export function blockSizeFor(vocab: number, k: number): number | null {
  return BLOCK_SIZES.find((size) => vocab % size === 0 && vocab / size >= 4 * k) ?? null
}

/** The opset of the head's own graph (GraphBuilder writes 17). */
const OWN_OPSET = 17
/** The lowest opset the head's operators are written for: Unsqueeze takes its axes as an input from 13. */
export const HEAD_MIN_OPSET = 13

/**
 * The head graph: input `logits` [rows, positions, vocab], outputs HEAD_OUTPUTS for the last position of
 * each row. Written for `opset` (13 or later), the opset of the graph it will run in. `softcap`: the
 * logits come before the softcap, which the head applies to its K values (deferred-softcap.ts).
 */
export function buildSamplingHead(
  logitsType: TensorType,
  vocab: number,
  plan: HeadPlan,
  opset: number,
  softcap: number | null = null,
): Uint8Array {
  if (opset < HEAD_MIN_OPSET) throw new Error(`the sampling head needs opset ${HEAD_MIN_OPSET}+`)
  if (vocab > FLOAT_EXACT_MAX)
    throw new Error(`the sampling head takes at most ${FLOAT_EXACT_MAX} ids`)
  const g = new GraphBuilder(0)
  const rows = rowsOf(g, logitsType, vocab)
  const { k, blockSize } = plan
  const values = softcap === null ? HEAD_OUTPUTS.values : 'uncapped_values'
  let ids: string // float32 [rows, k]
  if (blockSize) {
    ids = twoStage(g, rows, vocab, plan, opset, values)
  } else {
    topK(g, rows, vocab, plan, true, [values, 'top_ids'])
    ids = g.op('Gather', [range(g, vocab), 'top_ids'], { axis: 0 })
  }
  if (softcap !== null) {
    // The decoder's own Tanh and Mul, on K values per row instead of the whole vocabulary.
    g.op('Mul', [g.op('Tanh', [values]), g.float([softcap], [])], {}, HEAD_OUTPUTS.values)
  }
  g.op('Cast', [ids], { to: 6 }, HEAD_OUTPUTS.ids)
  g.output(HEAD_OUTPUTS.values, 'float32', ['rows', k])
  g.output(HEAD_OUTPUTS.ids, 'int32', ['rows', k])
  return g.encode('sampling_head', 'unused.onnx_data').model
}

/**
 * Ids and block numbers travel through the graph as float32 and are read from tables rather than computed
 * or cast from TopK's int64 indices: onnxruntime's WebGPU provider has no kernel for int64 arithmetic, a
 * Cast from int64, an int64 Reshape, or an int32 GatherElements, so each of those would run on the CPU,
 * with a round trip per step. float32 holds every integer up to 2^24 exactly.
 */
const FLOAT_EXACT_MAX = 2 ** 24

/** float32 [0, 1, …, n - 1]: constant inputs, so onnxruntime folds it into a table at load. */
function range(g: GraphBuilder, n: number): string {
  return g.op('Range', [g.float([0], []), g.float([n], []), g.float([1], [])])
}

/** [rows, positions, vocab] logits → [rows, vocab] float32 of each row's last position. */
function rowsOf(g: GraphBuilder, logitsType: TensorType, vocab: number): string {
  const logits = g.input('logits', logitsType, ['rows', 'positions', vocab])
  // The runner reads candidates only where each row has one position, so a Reshape (no copy) gives the
  // rows; a Slice of the last position would copy the whole block (measured: 3.6 of 5.4 ms at 16 rows).
  // A prompt chunk's logits (the fused head runs on every decoder call) give rows nobody reads.
  const rows = g.op('Reshape', [logits, g.int64([-1, vocab])])
  return logitsType === 'float16' ? g.op('Cast', [rows], { to: 1 }) : rows
}

/**
 * TopK along the last axis of `input` [rows, width], sorted (ONNX TopK, opset >= 11: equal values keep the
 * lower index first); the `largest` or the smallest K. With `plan.padRows` through a dummy row.
 */
function topK(
  g: GraphBuilder,
  input: string,
  width: number,
  plan: HeadPlan,
  largest: boolean,
  names: [string, string],
): void {
  const attrs = { axis: -1, largest: largest ? 1 : 0, sorted: 1 }
  const k = g.int64([plan.k])
  if (!plan.padRows) {
    g.opOutputs('TopK', [input, k], names, attrs)
    return
  }
  const dummy = g.op('ConstantOfShape', [g.int64([1, width])]) // one row of float32 zeros
  const padded = g.op('Concat', [input, dummy], { axis: 0 })
  const [values, indices] = g.opOutputs(
    'TopK',
    [padded, k],
    [`${names[0]}_padded`, `${names[1]}_padded`],
    attrs,
  )
  const dropLast = [g.int64([0]), g.int64([-1]), g.int64([0])] // rows 0 .. n - 1 of n + 1
  g.op('Slice', [values!, ...dropLast], {}, names[0])
  g.op('Slice', [indices!, ...dropLast], {}, names[1])
}

/**
 * Outputs `values` (named so) and returns the float32 ids of the top K: TopK runs over the kept blocks' K·B logits,
 * and the kept block numbers are sorted ascending, so the id of position p there is
 * blocks[p div B]·B + p mod B.
 */
function twoStage(
  g: GraphBuilder,
  rows: string,
  vocab: number,
  plan: HeadPlan,
  opset: number,
  values: string,
): string {
  const { k } = plan
  const size = plan.blockSize!
  const blocked = g.op('Reshape', [rows, g.int64([0, vocab / size, size])])
  // ReduceMax takes its axes as an input from opset 18, as an attribute before.
  const maxima =
    opset >= 18
      ? g.op('ReduceMax', [blocked, g.int64([2])], { keepdims: 0 })
      : g.op('ReduceMax', [blocked], { axes: [2], keepdims: 0 }) // [rows, vocab / size]
  topK(g, maxima, vocab / size, plan, true, ['best_maxima', 'best_blocks'])
  // The K smallest of the K block numbers: the same blocks, in ascending order.
  const blockNumbers = g.op('Gather', [range(g, vocab / size), 'best_blocks'], { axis: 0 })
  topK(g, blockNumbers, k, plan, false, ['ascending', 'unused_order'])
  // Shaped [rows, k, 1] before the Cast: GatherND's indices, without an int64 Reshape.
  const indices = g.op('Cast', [g.op('Reshape', ['ascending', g.int64([0, k, 1])])], { to: 7 })
  const kept = g.op('GatherND', [blocked, indices], { batch_dims: 1 }) // [rows, k, size]
  topK(g, g.op('Reshape', [kept, g.int64([0, k * size])]), k * size, plan, true, [
    values,
    'kept_positions',
  ])
  // p div B and p mod B, read from tables of all K·B positions (folded at load like `range`).
  const positions = range(g, k * size)
  const blockSize = g.float([size], [])
  const nthTable = g.op('Floor', [g.op('Div', [positions, blockSize])])
  const offsetTable = g.op('Sub', [positions, g.op('Mul', [nthTable, blockSize])])
  const nth = g.op('Cast', [g.op('Gather', [nthTable, 'kept_positions'], { axis: 0 })], { to: 7 })
  const block = g.op('GatherElements', ['ascending', nth], { axis: 1 })
  const offset = g.op('Gather', [offsetTable, 'kept_positions'], { axis: 0 })
  return g.op('Add', [g.op('Mul', [block, blockSize]), offset])
}
