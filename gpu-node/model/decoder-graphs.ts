/**
 * @module
 * The graphs the runner tries for `decoder_model_merged`, best first; after them, the file as exported.
 * Two rewrites, each checked and skipped when it does not apply: the lm_head sliced to the positions that
 * need logits (last-position-logits.ts), and the sampling head fused in (fused-sampling-head.ts). A
 * runtime that refuses a graph gets the next one (gemma3n-runner.ts `openDecoder`).
 */
import { readFile, stat } from 'node:fs/promises'
import { fuseSamplingHead } from './fused-sampling-head.ts'
import { lastPositionLogits } from './last-position-logits.ts'
import type { HeadPlan } from './sampling-head.ts'

/**
 * Largest `.onnx` file rewritten: protobuf's limit for one message, and `readFile`'s. Exports keep their
 * weights in `.onnx_data` files, so the graph file is small, but a decoder may also have them inline (a
 * third-party listing shows the real q4 decoder as one 1.52 GB file). Such a graph is rewritten all the
 * same, one candidate at a time: at most two copies of it are held at once, the one being rewritten and
 * the one the runtime is trying.
 */
const MAX_GRAPH_BYTES = 2 ** 31 - 1

export interface DecoderGraph {
  /** What was rewritten, for the warning when a runtime refuses it. */
  rewrites: string
  bytes: Uint8Array
  /** The softcap the fused head applies (its `logits` come before it), or `null` (deferred-softcap.ts). */
  softcap: number | null
}

/**
 * The rewritten graphs of the decoder file at `path`, best first (none: load the file as it is), each made
 * only when the one before it was refused. `head`: the sampling head to fuse in, `null` for none.
 */
export async function* decoderGraphs(
  path: string,
  vocab: number,
  head: HeadPlan | null,
): AsyncGenerator<DecoderGraph> {
  if ((await stat(path)).size > MAX_GRAPH_BYTES) return
  let exported: Uint8Array | null = new Uint8Array(await readFile(path))
  const sliced = lastPositionLogits(exported)
  // From here on only the sliced graph is read, if there is one: let the file's bytes go.
  const base: Uint8Array = sliced ?? exported
  exported = null
  let fused = head && fuseSamplingHead(base, vocab, head)
  if (fused) {
    const rewrites = sliced
      ? 'its lm_head sliced and the sampling head fused'
      : 'the sampling head fused'
    const graph = { rewrites, bytes: fused.bytes, softcap: fused.softcap }
    fused = null // so a refused graph is not held while the next one loads
    yield graph
  }
  if (sliced) yield { rewrites: 'its lm_head sliced', bytes: sliced, softcap: null }
}
