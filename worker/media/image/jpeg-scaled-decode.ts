/**
 * @module
 * JPEG decoding at a reduced scale inside the DCT (libjpeg-turbo's `scale_num/scale_denom`, through the
 * TurboJPEG API of @cwasm/jpeg-turbo's WASM build): a 4000x3000 photo bound for 768 px is decoded at 2/8,
 * straight to 1000x750, so the isolate never holds the 48 MB full-size RGBA and skips 15/16 of the IDCT
 * and colour conversion work. TurboJPEG picks the largest scale whose output fits the width and height
 * it is given, so passing ceil(size x n/8) selects exactly n/8.
 * API: https://rawcdn.githack.com/libjpeg-turbo/libjpeg-turbo/main/doc/turbojpeg/group___turbo_j_p_e_g.html
 */
import jpegTurboWasm from '@cwasm/jpeg-turbo/jpeg-turbo.wasm'
import { MediaInputError } from '../media-error.ts'

/** TurboJPEG pixel format: R, G, B, then an unused byte, which keeps one RGBA layout downstream. */
const TJPF_RGBX = 2

interface TurboJpegExports {
  memory: WebAssembly.Memory
  malloc(size: number): number
  free(pointer: number): void
  tjInitDecompress(): number
  tjDestroy(handle: number): number
  tjDecompressHeader3(...args: number[]): number
  tjDecompress2(...args: number[]): number
}

export interface DecodedImage {
  /** RGBA (alpha unused), row-major, [height, width, 4]. */
  pixels: Uint8Array
  width: number
  height: number
}

let instance: TurboJpegExports | null = null

function exportsOf(): TurboJpegExports {
  if (instance) return instance
  // libjpeg's error_exit longjmps; the build maps it to a JS throw, after which the instance's heap is
  // unknown, so every failure drops the instance (see `decodeJpegScaled`). setjmp returning 0 is the
  // "first pass" of the setjmp/longjmp pair.
  const env = {
    setjmp: () => 0,
    longjmp: () => {
      throw new MediaInputError('the JPEG data is corrupt', { kind: 'invalid_image_format' })
    },
  }
  const noSyscall = () => 0
  const wasi = Object.fromEntries(
    ['proc_exit', 'environ_sizes_get', 'environ_get', 'fd_close', 'fd_seek', 'fd_write'].map(
      (name) => [name, noSyscall],
    ),
  )
  const created = new WebAssembly.Instance(jpegTurboWasm, { env, wasi_snapshot_preview1: wasi })
  instance = created.exports as unknown as TurboJpegExports
  return instance
}

/** The n/8 scale (n = 1..8) that brings `longest` down to no less than `minLongest` pixels. */
export function jpegScaleEighths(longest: number, minLongest: number): number {
  for (let n = 1; n < 8; n++) if (Math.ceil((longest * n) / 8) >= minLongest) return n
  return 8
}

/**
 * Decodes `jpeg` at scale n/8 chosen so its longest side stays >= `minLongest`.
 * @example
 * decodeJpegScaled(bytes, 768) // 4000x3000 in, 1000x750 RGBA out
 */
export function decodeJpegScaled(jpeg: Uint8Array, minLongest: number): DecodedImage {
  try {
    return decode(exportsOf(), jpeg, minLongest)
  } catch (error) {
    instance = null
    if (error instanceof MediaInputError) throw error
    throw new MediaInputError('the JPEG data is corrupt', {
      kind: 'invalid_image_format',
      cause: error,
    })
  }
}

function decode(wasm: TurboJpegExports, jpeg: Uint8Array, minLongest: number): DecodedImage {
  const input = wasm.malloc(jpeg.length)
  const header = wasm.malloc(16)
  const handle = wasm.tjInitDecompress()
  let output = 0
  try {
    new Uint8Array(wasm.memory.buffer, input, jpeg.length).set(jpeg)
    if (
      wasm.tjDecompressHeader3(
        handle,
        input,
        jpeg.length,
        header,
        header + 4,
        header + 8,
        header + 12,
      ) !== 0
    ) {
      throw new MediaInputError('the JPEG header is corrupt', { kind: 'invalid_image_format' })
    }
    const [fullWidth = 0, fullHeight = 0] = new Int32Array(wasm.memory.buffer, header, 2)
    const n = jpegScaleEighths(Math.max(fullWidth, fullHeight), minLongest)
    const width = Math.ceil((fullWidth * n) / 8)
    const height = Math.ceil((fullHeight * n) / 8)
    output = wasm.malloc(width * height * 4)
    if (output === 0) throw new MediaInputError('the JPEG is too large to decode')
    const status = wasm.tjDecompress2(
      handle,
      input,
      jpeg.length,
      output,
      width,
      width * 4,
      height,
      TJPF_RGBX,
      0,
    )
    // Non-zero also covers warnings such as "premature end of JPEG file": a truncated upload.
    if (status !== 0)
      throw new MediaInputError('the JPEG data is corrupt or truncated', {
        kind: 'invalid_image_format',
      })
    const pixels = new Uint8Array(wasm.memory.buffer, output, width * height * 4).slice()
    return { pixels, width, height }
  } finally {
    if (output) wasm.free(output)
    wasm.free(header)
    wasm.free(input)
    wasm.tjDestroy(handle)
  }
}
