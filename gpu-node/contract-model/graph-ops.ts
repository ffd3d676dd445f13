/**
 * @module contract-model/graph-ops
 * Building blocks shared by the contract graphs: RMSNorm, a seeded linear layer, SiLU and
 * Unsqueeze (axes are an input from opset 13 on).
 */
import type { GraphBuilder } from './onnx-builder.ts'

const RMS_EPS = 1e-6

/** x / sqrt(mean(x^2, last axis) + eps); no learned gain (random gains add nothing here). */
export function rmsNorm(g: GraphBuilder, x: string): string {
  const meanSq = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: [-1], keepdims: 1 })
  const rms = g.op('Sqrt', [g.op('Add', [meanSq, g.float([RMS_EPS], [])])])
  return g.op('Div', [x, rms])
}

/**
 * x @ W with W [inDim, outDim] seeded, std `gain / sqrt(inDim)` (keeps activations O(1)).
 * @example linear(g, x, 'layer0.q', 64, 64)
 */
export function linear(
  g: GraphBuilder,
  x: string,
  name: string,
  inDim: number,
  outDim: number,
  gain = 1,
): string {
  return g.op('MatMul', [x, g.weight(name, [inDim, outDim], gain / Math.sqrt(inDim))])
}

/** x * sigmoid(x) */
export function silu(g: GraphBuilder, x: string): string {
  return g.op('Mul', [x, g.op('Sigmoid', [x])])
}

/** Unsqueeze with constant axes. */
export function unsqueeze(g: GraphBuilder, x: string, axes: number[]): string {
  return g.op('Unsqueeze', [x, g.int64(axes)])
}
