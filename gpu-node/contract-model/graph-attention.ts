/**
 * @module contract-model/graph-attention
 * Self-attention pieces of the decoder: rotary tables from `position_ids`, the additive mask
 * (index-based causal, optionally combined with `attention_mask`) and one GQA attention block, written
 * out in plain operators (queries laid out [B, kvHeads, group, S, Dh] so each KV head serves its group by
 * broadcasting) or as onnxruntime's fused `GroupQueryAttention` operator.
 */
import type { GraphBuilder } from './onnx-builder.ts'
import { ONNX_TYPES } from './onnx-builder.ts'
import type { ContractModelOptions } from './options.ts'
import { linear, unsqueeze } from './graph-ops.ts'

const ROPE_THETA = 1e4
// Additive mask value: finite so a fully masked (padding) row softmaxes to uniform, never NaN.
const MASKED = -1e9

/** Rotary tables shared by all layers. */
export interface Rotary {
  /** cos/sin [B, 1, S, Dh] for keys */
  cos4: string
  sin4: string
  /** cos/sin [B, 1, 1, S, Dh] for grouped queries */
  cos5: string
  sin5: string
  /** [Dh, Dh] matrix R with x @ R = rotate_half(x) = concat(-x2, x1) */
  rotateHalf: string
}

/** cos/sin of position * inv_freq (theta 1e4), duplicated over both halves like HF `rotate_half`. */
export function rotaryTables(g: GraphBuilder, positions: string, headDim: number): Rotary {
  const half = headDim / 2
  const invFreq = Array.from(
    { length: headDim },
    (_, i) => ROPE_THETA ** (-(2 * (i % half)) / headDim),
  )
  const angles = g.op('Mul', [unsqueeze(g, positions, [-1]), g.float(invFreq)]) // [B, S, Dh]
  const cos = g.op('Cos', [angles])
  const sin = g.op('Sin', [angles])
  const r = new Float32Array(headDim * headDim)
  for (let j = 0; j < half; j++) {
    r[(j + half) * headDim + j] = -1 // out[j] = -x[j + half]
    r[j * headDim + j + half] = 1 // out[j + half] = x[j]
  }
  return {
    cos4: unsqueeze(g, cos, [1]),
    sin4: unsqueeze(g, sin, [1]),
    cos5: unsqueeze(g, cos, [1, 2]),
    sin5: unsqueeze(g, sin, [1, 2]),
    rotateHalf: g.float(r, [headDim, headDim]),
  }
}

/** x * cos + rotate_half(x) * sin */
export function applyRotary(
  g: GraphBuilder,
  x: string,
  cos: string,
  sin: string,
  r: string,
): string {
  const rotated = g.op('MatMul', [x, r])
  return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [rotated, sin])])
}

/**
 * Additive mask [B or 1, 1, 1, S, T]: query P+s sees key j iff j <= P+s and (if declared)
 * attention_mask[b, j] == 1. P is read from the shape of the first past key.
 */
export function attentionMaskBias(
  g: GraphBuilder,
  pastKey: string,
  embeds: string,
  attentionMask: string | null,
): string {
  const past = g.op('Shape', [pastKey], { start: 2, end: 3 }) // [1] = P
  const seq = g.op('Shape', [embeds], { start: 1, end: 2 }) // [1] = S
  const p = g.op('Squeeze', [past])
  const total = g.op('Squeeze', [g.op('Add', [past, seq])])
  const one = g.int64([1], [])
  const keyIdx = g.op('Range', [g.int64([0], []), total, one]) // [T]
  const queryIdx = g.op('Range', [p, total, one]) // [S]
  let allowed = g.op('LessOrEqual', [unsqueeze(g, keyIdx, [0]), unsqueeze(g, queryIdx, [1])]) // [S, T]
  let axes = [0, 1, 2]
  if (attentionMask !== null) {
    const valid = g.op('Equal', [attentionMask, one]) // [B, T]
    allowed = g.op('And', [allowed, unsqueeze(g, valid, [1])]) // [B, S, T]
    axes = [1, 2]
  }
  const bias = g.op('Where', [allowed, g.float([0], []), g.float([MASKED], [])])
  return unsqueeze(g, bias, axes)
}

/** Keys and values [B, kvHeads, T, Dh] after concatenation with the past. */
export interface KeyValue {
  key: string
  value: string
}

/** New keys/values of this step [B, kvHeads, S, Dh], keys rotated. */
export function projectKeyValue(
  g: GraphBuilder,
  x: string,
  prefix: string,
  o: ContractModelOptions,
  rot: Rotary,
): KeyValue {
  const width = o.kvHeads * o.headDim
  const split = (t: string): string =>
    g.op('Transpose', [g.op('Reshape', [t, g.int64([0, 0, o.kvHeads, o.headDim])])], {
      perm: [0, 2, 1, 3],
    })
  const key = split(linear(g, x, `${prefix}.k`, o.hidden, width))
  const value = split(linear(g, x, `${prefix}.v`, o.hidden, width))
  return { key: applyRotary(g, key, rot.cos4, rot.sin4, rot.rotateHalf), value }
}

/** softmax(q k^T / sqrt(Dh) + mask) v, projected back to [B, S, H]. */
export function attend(
  g: GraphBuilder,
  x: string,
  prefix: string,
  o: ContractModelOptions,
  rot: Rotary,
  kv: KeyValue,
  maskBias: string,
): string {
  const group = o.heads / o.kvHeads
  const q = linear(g, x, `${prefix}.q`, o.hidden, o.heads * o.headDim)
  const q5 = g.op(
    'Transpose',
    [g.op('Reshape', [q, g.int64([0, 0, o.kvHeads, group, o.headDim])])],
    {
      perm: [0, 2, 3, 1, 4],
    },
  ) // [B, kvH, g, S, Dh]
  const qRot = applyRotary(g, q5, rot.cos5, rot.sin5, rot.rotateHalf)
  const keyT = g.op('Transpose', [unsqueeze(g, kv.key, [2])], { perm: [0, 1, 2, 4, 3] }) // [B, kvH, 1, Dh, T]
  const scores = g.op('Mul', [
    g.op('MatMul', [qRot, keyT]),
    g.float([1 / Math.sqrt(o.headDim)], []),
  ])
  const probs = g.op('Softmax', [g.op('Add', [scores, maskBias])], { axis: -1 }) // [B, kvH, g, S, T]
  const ctx = g.op('MatMul', [probs, unsqueeze(g, kv.value, [2])]) // [B, kvH, g, S, Dh]
  const merged = g.op('Reshape', [
    g.op('Transpose', [ctx], { perm: [0, 3, 1, 2, 4] }),
    g.int64([0, 0, o.heads * o.headDim]),
  ]) // [B, S, heads*Dh]
  return linear(g, merged, `${prefix}.o`, o.heads * o.headDim, o.hidden)
}

/** `GroupQueryAttention`'s length inputs: `seqlens_k` (int32 [B]) and `total_sequence_length` (int32). */
export interface GroupQueryLengths {
  seqlensK: string
  total: string
}

/**
 * The lengths as the onnx-community exports derive them from `attention_mask`: each row's number of ones
 * minus one, and the mask's width. Where a row's ones sit is never read, only how many there are.
 */
export function groupQueryLengths(g: GraphBuilder, attentionMask: string): GroupQueryLengths {
  const ones = g.op('ReduceSum', [attentionMask, g.int64([1])], { keepdims: 0 }) // [B]
  const seqlensK = g.op('Cast', [g.op('Sub', [ones, g.int64([1], [])])], { to: ONNX_TYPES.int32 })
  const width = g.op('Gather', [g.op('Shape', [attentionMask]), g.int64([1], [])]) // scalar
  return { seqlensK, total: g.op('Cast', [width], { to: ONNX_TYPES.int32 }) }
}

/**
 * The attention block of `attend`, with the same weights, through `com.microsoft.GroupQueryAttention`
 * (rotary applied here, from `position_ids`, so the operator's own is off). The operator keeps row b's past
 * at columns [0, seqlens_k[b] - S + 1) and writes the new keys right after them, so it serves a batch only
 * when each row's cache starts at column 0 (padding on the right).
 */
export function groupQueryAttend(
  g: GraphBuilder,
  x: string,
  prefix: string,
  o: ContractModelOptions,
  rot: Rotary,
  past: KeyValue,
  lengths: GroupQueryLengths,
): { output: string; present: KeyValue } {
  const fresh = projectKeyValue(g, x, prefix, o, rot) // [B, kvH, S, Dh], keys rotated
  const q = linear(g, x, `${prefix}.q`, o.hidden, o.heads * o.headDim)
  const q4 = g.op('Transpose', [g.op('Reshape', [q, g.int64([0, 0, o.heads, o.headDim])])], {
    perm: [0, 2, 1, 3],
  }) // [B, H, S, Dh]
  const qRot = applyRotary(g, q4, rot.cos4, rot.sin4, rot.rotateHalf)
  // [B, heads, S, Dh] -> [B, S, heads * Dh], the operator's layout.
  const flat = (t: string, heads: number): string =>
    g.op('Reshape', [
      g.op('Transpose', [t], { perm: [0, 2, 1, 3] }),
      g.int64([0, 0, heads * o.headDim]),
    ])
  const [output, presentKey, presentValue] = g.microsoftOp(
    'GroupQueryAttention',
    [
      flat(qRot, o.heads),
      flat(fresh.key, o.kvHeads),
      flat(fresh.value, o.kvHeads),
      past.key,
      past.value,
      lengths.seqlensK,
      lengths.total,
    ],
    [`${prefix}.gqa`, `${prefix}.gqa.present_key`, `${prefix}.gqa.present_value`],
    { num_heads: o.heads, kv_num_heads: o.kvHeads },
  )
  return {
    output: linear(g, output!, `${prefix}.o`, o.heads * o.headDim, o.hidden),
    present: { key: presentKey!, value: presentValue! },
  }
}
