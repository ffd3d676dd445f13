/**
 * @module contract-model/graph-embed
 * The `embed_tokens` graph: `input_ids` [B, S] -> `inputs_embeds` [B, S, H] (table lookup scaled
 * by sqrt(H), as Gemma 3n does) and `per_layer_inputs` [B, S, L, Dp] (ids >= the per-layer vocabulary,
 * i.e. image/audio soft tokens, look up row 0 = pad; HF `get_per_layer_inputs`).
 */
import { GraphBuilder } from './onnx-builder.ts'
import type { ContractModelOptions } from './options.ts'

/** Vocabulary sizes the graphs need. */
export interface VocabSizes {
  /** `vocab_size`: rows of the token table and width of the logits. */
  size: number
  /** `vocab_size_per_layer_input`: rows of the per-layer table. */
  perLayerSize: number
}

/** Builds `embed_tokens`. */
export function buildEmbedTokens(o: ContractModelOptions, vocab: VocabSizes): GraphBuilder {
  const g = new GraphBuilder(o.seed)
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length'])
  // Table std 1/sqrt(H), times sqrt(H): embeddings of std 1.
  const table = g.weight('embed.tokens', [vocab.size, o.hidden], 1 / Math.sqrt(o.hidden))
  const rows = g.op('Gather', [table, ids], { axis: 0 }) // [B, S, H]
  g.op('Mul', [rows, g.float([Math.sqrt(o.hidden)], [])], {}, 'inputs_embeds')

  const inRange = g.op('Less', [ids, g.int64([vocab.perLayerSize], [])])
  const plIds = g.op('Where', [inRange, ids, g.int64([0], [])]) // [B, S]
  const plTable = g.weight('embed.per_layer', [vocab.perLayerSize, o.layers * o.perLayerDim], 1)
  const plRows = g.op('Gather', [plTable, plIds], { axis: 0 }) // [B, S, L*Dp]
  g.op('Reshape', [plRows, g.int64([0, 0, o.layers, o.perLayerDim])], {}, 'per_layer_inputs')

  g.output('inputs_embeds', 'float32', ['batch_size', 'sequence_length', o.hidden])
  g.output('per_layer_inputs', 'float32', [
    'batch_size',
    'sequence_length',
    o.layers,
    o.perLayerDim,
  ])
  return g
}
