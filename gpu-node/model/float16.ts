/**
 * @module
 * IEEE 754 half -> single precision, for fp16 logits rows. Node 22 has no `Float16Array`, and onnxruntime
 * hands fp16 data over as raw `Uint16Array` bits.
 */

/** Converts half-precision bit patterns to float32 values. */
export function float16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length)
  for (let i = 0; i < bits.length; i++) out[i] = halfToFloat(bits[i]!)
  return out
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exponent = (h >> 10) & 0x1f
  const fraction = h & 0x3ff
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024)
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024)
}
