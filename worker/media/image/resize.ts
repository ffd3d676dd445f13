/**
 * @module
 * Downscaling with a proper antialiasing filter: a separable triangle (tent) filter whose support grows
 * with the scale factor, i.e. area-weighted bilinear, the same family as PIL's BILINEAR resize with
 * `reducing_gap=None` that the Gemma 3n processor applies next (gemma3n-contract.md §6). Point-sampled
 * bilinear would alias fine detail into moiré. Works on RGBA rows, ignores the source alpha (the
 * processor's RGB conversion drops it too) and writes opaque pixels.
 */
import type { DecodedImage } from './jpeg-scaled-decode.ts'

interface Taps {
  /** First source index for each output index. */
  start: Int32Array
  /** Weights, `width` per output index, zero-padded. */
  weights: Float32Array
  width: number
}

/** Filter taps mapping `from` samples onto `to` samples. */
function taps(from: number, to: number): Taps {
  const scale = from / to
  const support = Math.max(1, scale) // tent radius in source pixels
  const width = Math.ceil(support) * 2 + 1
  const start = new Int32Array(to)
  const weights = new Float32Array(to * width)
  for (let i = 0; i < to; i++) {
    const center = (i + 0.5) * scale
    const first = Math.max(0, Math.floor(center - support))
    const last = Math.min(from - 1, Math.ceil(center + support))
    let sum = 0
    for (let j = first; j <= last && j - first < width; j++) {
      const w = Math.max(0, 1 - Math.abs((j + 0.5 - center) / support))
      weights[i * width + (j - first)] = w
      sum += w
    }
    for (let k = 0; k < width; k++) weights[i * width + k]! /= sum || 1
    start[i] = first
  }
  return { start, weights, width }
}

/**
 * Resizes RGBA `image` to `width` x `height`.
 * @example
 * resizeRgba({ pixels, width: 1000, height: 750 }, 768, 576)
 */
export function resizeRgba(image: DecodedImage, width: number, height: number): DecodedImage {
  if (image.width === width && image.height === height) return image
  const src = image.pixels
  const h = taps(image.width, width)
  const v = taps(image.height, height)
  // Horizontal pass into float rows: [image.height, width, 3].
  const mid = new Float32Array(image.height * width * 3)
  for (let y = 0; y < image.height; y++) {
    const row = y * image.width * 4
    for (let x = 0; x < width; x++) {
      let r = 0
      let g = 0
      let b = 0
      const base = x * h.width
      let p = row + h.start[x]! * 4
      for (let k = 0; k < h.width; k++, p += 4) {
        const w = h.weights[base + k]!
        if (w === 0) continue
        r += src[p]! * w
        g += src[p + 1]! * w
        b += src[p + 2]! * w
      }
      const o = (y * width + x) * 3
      mid[o] = r
      mid[o + 1] = g
      mid[o + 2] = b
    }
  }
  // Vertical pass: [height, width, 4].
  const out = new Uint8Array(width * height * 4)
  const stride = width * 3
  for (let y = 0; y < height; y++) {
    const base = y * v.width
    const first = v.start[y]!
    for (let x = 0; x < width; x++) {
      let r = 0
      let g = 0
      let b = 0
      let p = first * stride + x * 3
      for (let k = 0; k < v.width; k++, p += stride) {
        const w = v.weights[base + k]!
        if (w === 0) continue
        r += mid[p]! * w
        g += mid[p + 1]! * w
        b += mid[p + 2]! * w
      }
      const o = (y * width + x) * 4
      out[o] = r + 0.5
      out[o + 1] = g + 0.5
      out[o + 2] = b + 0.5
      out[o + 3] = 255
    }
  }
  return { pixels: out, width, height }
}

/**
 * Applies EXIF orientation 1–8 so the image reads upright (EXIF 2.32, tag 0x0112). Each orientation is
 * an affine walk over the stored pixels: output (x, y) reads stored index origin + x·dx + y·dy.
 */
export function orientRgba(image: DecodedImage, orientation: number): DecodedImage {
  if (orientation <= 1 || orientation > 8) return image
  const { width: w, height: h } = image
  // A Uint32Array view moves whole pixels; it needs a 4-byte aligned start.
  const pixels = image.pixels.byteOffset % 4 === 0 ? image.pixels : image.pixels.slice()
  const transposed = orientation >= 5
  const outW = transposed ? h : w
  const outH = transposed ? w : h
  const out = new Uint8Array(pixels.length)
  const view = new Uint32Array(pixels.buffer, pixels.byteOffset, w * h)
  const outView = new Uint32Array(out.buffer)
  const [origin, dx, dy] = walkOf(orientation, w, h)
  let o = 0
  for (let y = 0; y < outH; y++) {
    let s = origin + y * dy
    for (let x = 0; x < outW; x++, s += dx) outView[o++] = view[s]!
  }
  return { pixels: out, width: outW, height: outH }
}

/** [origin, dx, dy] of the stored index for orientations 2–8 of a w x h stored image. */
function walkOf(orientation: number, w: number, h: number): [number, number, number] {
  const last = (h - 1) * w
  switch (orientation) {
    case 2:
      return [w - 1, -1, w] // mirror horizontally
    case 3:
      return [last + w - 1, -1, -w] // rotate 180°
    case 4:
      return [last, 1, -w] // mirror vertically
    case 5:
      return [0, w, 1] // transpose
    case 6:
      return [last, -w, 1] // rotate 90° clockwise
    case 7:
      return [last + w - 1, -w, -1] // transverse
    default:
      return [w - 1, w, -1] // 8: rotate 90° counter-clockwise
  }
}
