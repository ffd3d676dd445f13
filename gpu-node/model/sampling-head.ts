/**
 * @module
 * A small ONNX graph run on the decoder's logits, on the same device: the top K of each row's single
 * position. JavaScript then samples among K candidates (text/candidate-sampler.ts) instead of scanning the
 * 262,400 logits of every sequence every step, which was most of the JavaScript time per decode step.
 *
 * For a large vocabulary the graph finds the top K in two stages. The vocabulary is cut into blocks of B
 * ids; the K blocks with the highest maxima are kept, and TopK runs on those K·B logits only. Exact: an id
 * in the top K has fewer than K better ids, so fewer than K blocks have a better maximum than its own block.
 * The kept blocks are put back in id order first, so ties still go to the lower id, as with a plain TopK.
 * Measured on one CPU core at 262,400 ids (B = 128): 0.46 → 0.11 ms for 1 row, 3.9 → 3.4 ms for 16 rows.
 * Only on the CPU devices (cpu, wasm), where it was measured: on cuda and webgpu a TopK is one kernel over
 * logits already on the device, and an operator the execution provider lacks would send them back to the
 * CPU, so those keep the plain graph.
 */
import { GraphBuilder } from '../contract-model/onnx-builder.ts'
import { isCpuDevice } from './ort-runtime.ts'
import type { InferenceSession, OrtRuntime, Tensor, TensorType } from './ort-runtime.ts'
import { sessionRun } from './session-run.ts'

/** Candidates per row: covers the usual top_k (Gemma's default is 64) with room for penalised ids. */
export const HEAD_CANDIDATES = 256

/** Block sizes to try, best first (measured at 262,400 ids: 128 beat 64, 160 and 256). */
const BLOCK_SIZES = [128, 160, 100, 200, 80, 256, 64]

export interface RowCandidates {
  ids: number[]
  logits: Float32Array
}

export class SamplingHead {
  readonly #session: InferenceSession
  readonly k: number
  /** Ids per block in the two-stage graph; `null`: one plain TopK over the whole row. */
  readonly blockSize: number | null

  private constructor(session: InferenceSession, k: number, blockSize: number | null) {
    this.#session = session
    this.k = k
    this.blockSize = blockSize
  }

  static async create(
    runtime: OrtRuntime,
    logitsType: TensorType,
    vocab: number,
  ): Promise<SamplingHead> {
    const k = Math.min(HEAD_CANDIDATES, vocab)
    const blockSize = isCpuDevice(runtime.device) ? blockSizeFor(vocab, k) : null
    const model = blockSize
      ? buildTwoStage(logitsType, vocab, k, blockSize)
      : build(logitsType, vocab, k)
    return new SamplingHead(await runtime.createSessionFromBytes(model), k, blockSize)
  }

  /** `logits` [rows, 1, vocab] → per row, the top K, highest first (ties: lower id first). */
  async run(logits: Tensor): Promise<RowCandidates[]> {
    const out = await sessionRun('sampling head', this.#session, { logits })
    const values = out.values!.data as Float32Array
    const indices = out.indices!.data as BigInt64Array
    const blocks = out.blocks?.data as BigInt64Array | undefined
    const { k, blockSize } = this
    const rows = logits.dims[0]!
    const result: RowCandidates[] = []
    for (let r = 0; r < rows; r++) {
      const start = r * k
      const positions = Array.from(indices.subarray(start, start + k), Number)
      // Two-stage: a position in the kept blocks → its id in the vocabulary.
      const ids =
        blocks && blockSize
          ? positions.map(
              (p) =>
                Number(blocks[start + Math.floor(p / blockSize)]) * blockSize + (p % blockSize),
            )
          : positions
      result.push({ ids, logits: values.subarray(start, start + k) })
    }
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

/** [rows, 1, vocab] logits → [rows, vocab] float32. */
function rowsOf(g: GraphBuilder, logitsType: TensorType, vocab: number): string {
  const logits = g.input('logits', logitsType, ['rows', 1, vocab])
  // One position per row: the runner only ever fetches logits for single-token feeds, so the graph only
  // squeezes. A Slice of the last position would copy the whole block (measured: 3.6 of 5.4 ms at 16 rows).
  const rows = g.op('Squeeze', [logits, g.int64([1])]) // [rows, vocab], no copy
  return logitsType === 'float16' ? g.op('Cast', [rows], { to: 1 }) : rows
}

function topK(g: GraphBuilder, input: string, k: number, names: [string, string]): void {
  // ONNX TopK (opset >= 11): sorted, and equal values keep the lower index first.
  g.opOutputs('TopK', [input, g.int64([k])], names, { axis: -1, largest: 1, sorted: 1 })
}

function build(logitsType: TensorType, vocab: number, k: number): Uint8Array {
  const g = new GraphBuilder(0)
  topK(g, rowsOf(g, logitsType, vocab), k, ['values', 'indices'])
  g.output('values', 'float32', ['rows', k])
  g.output('indices', 'int64', ['rows', k])
  return g.encode('sampling_head', 'unused.onnx_data').model
}

/**
 * Outputs `values` and `indices` (positions among the kept blocks' K·B logits), and `blocks`, the kept
 * block numbers in ascending order: the id of position p is blocks[p / B]·B + p mod B.
 */
function buildTwoStage(logitsType: TensorType, vocab: number, k: number, size: number): Uint8Array {
  const g = new GraphBuilder(0)
  const blocked = g.op('Reshape', [rowsOf(g, logitsType, vocab), g.int64([0, vocab / size, size])])
  const maxima = g.op('ReduceMax', [blocked], { axes: [2], keepdims: 0 }) // [rows, vocab / size]
  topK(g, maxima, k, ['best_maxima', 'best_blocks'])
  // The K smallest of K block numbers: the same blocks, in ascending order (exact in float32: < 2^24).
  const asFloat = g.op('Cast', ['best_blocks'], { to: 1 })
  g.opOutputs('TopK', [asFloat, g.int64([k])], ['ascending', 'unused_order'], {
    axis: -1,
    largest: 0,
    sorted: 1,
  })
  g.op('Cast', ['ascending'], { to: 7 }, 'blocks') // [rows, k] int64
  const kept = g.op('GatherND', [blocked, g.op('Unsqueeze', ['blocks', g.int64([2])])], {
    batch_dims: 1,
  }) // [rows, k, size]
  topK(g, g.op('Reshape', [kept, g.int64([0, k * size])]), k, ['values', 'indices'])
  g.output('values', 'float32', ['rows', k])
  g.output('indices', 'int64', ['rows', k])
  g.output('blocks', 'int64', ['rows', k])
  return g.encode('sampling_head', 'unused.onnx_data').model
}
