/**
 * @module contract-model/graph-decoder
 * The `decoder_model_merged` graph (gemma3n-contract.md §2): inputs_embeds + per_layer_inputs +
 * position_ids (+ attention_mask) + past_key_values.{i} -> logits [B, S, V] and present.{i}. Attention is
 * written out in plain operators, or (`groupQueryAttention`) is onnxruntime's fused operator, as the
 * onnx-community exports of other Gemma models have it.
 * An absolute sinusoid of the position is added to the hidden state so that a 0- vs 1-based
 * position bug changes the output (rotary embedding alone only sees relative positions).
 */
import { GraphBuilder } from './onnx-builder.ts'
import type { CacheDtype, ContractModelOptions } from './options.ts'
import type { VocabSizes } from './graph-embed.ts'
import type { KeyValue } from './graph-attention.ts'
import {
  attend,
  attentionMaskBias,
  groupQueryAttend,
  groupQueryLengths,
  projectKeyValue,
  rotaryTables,
} from './graph-attention.ts'
import { linear, rmsNorm, silu, unsqueeze } from './graph-ops.ts'
import { ONNX_TYPES } from './onnx-builder.ts'

const SOFTCAP = 30
const LOGIT_GAIN = 4

/** Declares past_key_values.{i}.key/.value; returns them as float32 tensors. */
function declarePast(g: GraphBuilder, o: ContractModelOptions, cacheDtype: CacheDtype): KeyValue[] {
  const dims = ['batch_size', o.kvHeads, 'past_sequence_length', o.headDim]
  const read = (name: string): string => {
    g.input(name, cacheDtype, dims)
    return cacheDtype === 'float16' ? g.op('Cast', [name], { to: ONNX_TYPES.float32 }) : name
  }
  return Array.from({ length: o.kvLayers }, (_, i) => ({
    key: read(`past_key_values.${i}.key`),
    value: read(`past_key_values.${i}.value`),
  }))
}

/** Outputs present.{i}.key/.value (after logits, in the order of the past inputs). */
function writePresent(
  g: GraphBuilder,
  o: ContractModelOptions,
  present: KeyValue[],
  cacheDtype: CacheDtype,
): void {
  const dims = ['batch_size', o.kvHeads, 'total_sequence_length', o.headDim]
  present.forEach((kv, i) => {
    for (const [part, tensor] of [
      ['key', kv.key],
      ['value', kv.value],
    ] as const) {
      const name = `present.${i}.${part}`
      if (cacheDtype === 'float16') g.op('Cast', [tensor], { to: ONNX_TYPES.float16 }, name)
      else g.op('Identity', [tensor], {}, name)
      g.output(name, cacheDtype, dims)
    }
  })
}

/** Builds `decoder_model_merged` with the given cache dtype. */
export function buildDecoder(
  o: ContractModelOptions,
  vocab: VocabSizes,
  cacheDtype: CacheDtype,
): GraphBuilder {
  const g = new GraphBuilder(o.seed)
  const embeds = g.input('inputs_embeds', 'float32', ['batch_size', 'sequence_length', o.hidden])
  const perLayer = g.input('per_layer_inputs', 'float32', [
    'batch_size',
    'sequence_length',
    o.layers,
    o.perLayerDim,
  ])
  const positionIds = g.input('position_ids', 'int64', ['batch_size', 'sequence_length'])
  const mask = o.attentionMask
    ? g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length'])
    : null
  const past = declarePast(g, o, cacheDtype)

  const positions = g.op('Cast', [positionIds], { to: ONNX_TYPES.float32 }) // [B, S]
  const rot = rotaryTables(g, positions, o.headDim)
  const maskBias = attentionMaskBias(g, `past_key_values.0.key`, embeds, mask)
  const lengths = o.groupQueryAttention && mask !== null ? groupQueryLengths(g, mask) : null
  // Fixed frequencies spread over (0.05, 1.05) rad per position: every position shift is visible.
  const freq = Array.from({ length: o.hidden }, (_, i) => 0.05 + i / o.hidden)
  let h = g.op('Add', [
    embeds,
    g.op('Sin', [g.op('Mul', [unsqueeze(g, positions, [-1]), g.float(freq)])]),
  ])

  const present: KeyValue[] = []
  for (let l = 0; l < o.layers; l++) {
    const prefix = `layer${l}`
    const pl = g.op('Gather', [perLayer, g.int64([l], [])], { axis: 2 }) // [B, S, Dp]
    h = g.op('Add', [h, linear(g, pl, `${prefix}.per_layer`, o.perLayerDim, o.hidden, 0.5)])
    const x = rmsNorm(g, h)
    const own = past[l]
    if (own !== undefined && lengths !== null) {
      const gqa = groupQueryAttend(g, x, prefix, o, rot, own, lengths)
      present.push(gqa.present)
      h = g.op('Add', [h, gqa.output])
    } else {
      let kv = present[o.kvLayers - 1]
      if (own !== undefined) {
        const fresh = projectKeyValue(g, x, prefix, o, rot)
        kv = {
          key: g.op('Concat', [own.key, fresh.key], { axis: 2 }),
          value: g.op('Concat', [own.value, fresh.value], { axis: 2 }),
        }
        present.push(kv)
      }
      if (kv === undefined) throw new Error(`layer ${l} has no key/value source`)
      h = g.op('Add', [h, attend(g, x, prefix, o, rot, kv, maskBias)])
    }
    const up = silu(g, linear(g, rmsNorm(g, h), `${prefix}.mlp_up`, o.hidden, o.ffn))
    h = g.op('Add', [h, linear(g, up, `${prefix}.mlp_down`, o.ffn, o.hidden)])
  }

  let last = rmsNorm(g, h)
  if (o.logitsToKeep) {
    // transformers' `logits_to_keep`: the lm_head sees only the last N positions; 0 keeps them all.
    const keep = g.input('num_logits_to_keep', 'int64', [])
    const zero = g.int64([0], [])
    const start = g.op('Where', [g.op('Equal', [keep, zero]), zero, g.op('Neg', [keep])])
    last = g.op('Slice', [last, unsqueeze(g, start, [0]), g.int64([2 ** 50]), g.int64([1])])
  }
  // On a unit-RMS state the logits have std LOGIT_GAIN: peaked enough for a varied greedy output.
  const raw = linear(g, last, 'lm_head', o.hidden, vocab.size, LOGIT_GAIN)
  const capped = g.op('Tanh', [g.op('Div', [raw, g.float([SOFTCAP], [])])])
  g.op('Mul', [capped, g.float([SOFTCAP], [])], {}, 'logits')
  const logitsLength = o.logitsToKeep ? 'logits_sequence_length' : 'sequence_length'
  g.output('logits', 'float32', ['batch_size', logitsLength, vocab.size])

  writePresent(g, o, present, cacheDtype)
  return g
}
