/**
 * @module
 * IEEE 754 single -> half precision with round-to-nearest-even, for feeding float16 session inputs and
 * float16 `inputs_embeds` rows. Node 22 has no `Float16Array`; onnxruntime takes fp16 as `Uint16Array`
 * bits. The inverse is float16.ts.
 */

const F32 = new Float32Array(1)
const U32 = new Uint32Array(F32.buffer)

/** Converts float32 values to half-precision bit patterns. */
export function float32ToFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length)
  for (let i = 0; i < values.length; i++) out[i] = floatToHalf(values[i]!)
  return out
}

/** Rounds `shifted >> shift` to nearest, ties to even. */
function roundShift(value: number, shift: number): number {
  const kept = value >>> shift
  const rest = value & ((1 << shift) - 1)
  const half = 1 << (shift - 1)
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept
}

function floatToHalf(value: number): number {
  F32[0] = value
  const bits = U32[0]!
  const sign = (bits >>> 16) & 0x8000
  const exponent = (bits >>> 23) & 0xff
  const mantissa = bits & 0x7fffff
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0) // Inf, NaN
  const e = exponent - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00 // too large: Inf
  if (e <= 0) {
    // Subnormal half: units of 2^-24; below half of the smallest one it rounds to zero.
    if (e < -10) return sign
    return sign | roundShift(mantissa | 0x800000, 14 - e)
  }
  // A carry out of the mantissa bumps the exponent, and from the largest finite value to Inf: both right.
  return sign | roundShift((e << 23) | mantissa, 13)
}
