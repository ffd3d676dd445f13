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
 * Largest `.onnx` file rewritten: exports keep their weights in `.onnx_data` files, so the graph file is
 * small; one with its weights inline would be held in memory twice over, and is loaded as it is.
 */
const MAX_GRAPH_BYTES = 256 * 1024 * 1024

export interface DecoderGraph {
  /** What was rewritten, for the warning when a runtime refuses it. */
  rewrites: string
  bytes: Uint8Array
  /** The softcap the fused head applies (its `logits` come before it), or `null` (deferred-softcap.ts). */
  softcap: number | null
}

/**
 * The rewritten graphs of the decoder file at `path`, best first (none: load the file as it is). `head`:
 * the sampling head to fuse in, `null` for none.
 */
export async function decoderGraphs(
  path: string,
  vocab: number,
  head: HeadPlan | null,
): Promise<DecoderGraph[]> {
  if ((await stat(path)).size > MAX_GRAPH_BYTES) return []
  const exported = new Uint8Array(await readFile(path))
  const sliced = lastPositionLogits(exported)
  const fused = head && fuseSamplingHead(sliced ?? exported, vocab, head)
  const graphs: DecoderGraph[] = []
  if (fused) {
    const rewrites = sliced
      ? 'its lm_head sliced and the sampling head fused'
      : 'the sampling head fused'
    graphs.push({ rewrites, bytes: fused.bytes, softcap: fused.softcap })
  }
  if (sliced) graphs.push({ rewrites: 'its lm_head sliced', bytes: sliced, softcap: null })
  return graphs
}
