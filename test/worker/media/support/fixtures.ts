/**
 * @module
 * Media fixtures made inside workerd (which cannot read host files): a small PNG encoder (zlib through
 * CompressionStream), JPEG and WebP transcoded from it by the local Images binding (sharp), GIFs from
 * omggif's writer, EXIF orientation spliced into a JPEG, and WAV files with chosen layouts.
 */
import { env } from 'cloudflare:workers'
import { Mp3Encoder } from '@breezystack/lamejs'
import { GifWriter } from 'omggif'

/** RGB pixel at (x, y) of a test picture. */
export type Painter = (x: number, y: number) => [number, number, number]

/** Left half red, right half blue: tells rotations and flips apart. */
export const halves =
  (width: number): Painter =>
  (x) =>
    x < width / 2 ? [255, 0, 0] : [0, 0, 255]

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, data.length)
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i)
  out.set(data, 8)
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)))
  return out
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** A truecolour PNG painted by `paint`. */
export async function makePng(width: number, height: number, paint: Painter): Promise<Uint8Array> {
  const raw = new Uint8Array((width * 3 + 1) * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(paint(x, y), y * (width * 3 + 1) + 1 + x * 3)
  }
  const zlib = new Uint8Array(
    await new Response(
      new Blob([raw]).stream().pipeThrough(new CompressionStream('deflate')),
    ).arrayBuffer(),
  )
  return concat(
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngHeader(width, height),
    chunk('IDAT', zlib),
    chunk('IEND', new Uint8Array(0)),
  )
}

/** An IHDR chunk (8-bit RGB); alone after the signature it declares any size without pixels. */
export function pngHeader(width: number, height: number): Uint8Array {
  const ihdr = new Uint8Array(13)
  const view = new DataView(ihdr.buffer)
  view.setUint32(0, width)
  view.setUint32(4, height)
  ihdr.set([8, 2, 0, 0, 0], 8)
  return chunk('IHDR', ihdr)
}

/** `png` transcoded by the local Images binding (sharp) to JPEG or WebP. */
export async function transcode(
  png: Uint8Array,
  format: 'image/jpeg' | 'image/webp',
): Promise<Uint8Array> {
  const result = await env.IMAGES.input(new Blob([png]).stream()).output({ format, quality: 90 })
  return new Uint8Array(await result.response().arrayBuffer())
}

/** A one-frame GIF painted with a 2-colour palette (red where `paint` gives red, else blue). */
export function makeGif(width: number, height: number, paint: Painter): Uint8Array {
  const buffer = new Uint8Array(width * height + 1024)
  const writer = new GifWriter(buffer, width, height, { palette: [0xff0000, 0x0000ff] })
  const indices = Array.from({ length: width * height }, (_, i) =>
    paint(i % width, Math.floor(i / width))[0] > 127 ? 0 : 1,
  )
  writer.addFrame(0, 0, width, height, indices)
  return buffer.subarray(0, writer.end())
}

/** `jpeg` with an APP1 Exif segment carrying `orientation` inserted after SOI. */
export function withExifOrientation(jpeg: Uint8Array, orientation: number): Uint8Array {
  // "Exif\0\0", little-endian TIFF header, IFD0 at 8 with one entry: 0x0112 SHORT count 1.
  const tiff = [
    0x49,
    0x49,
    0x2a,
    0,
    8,
    0,
    0,
    0,
    1,
    0,
    0x12,
    0x01,
    3,
    0,
    1,
    0,
    0,
    0,
    orientation,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ]
  const payload = [...'Exif'].map((c) => c.charCodeAt(0)).concat([0, 0], tiff)
  const length = payload.length + 2
  const app1 = new Uint8Array([0xff, 0xe1, length >> 8, length & 0xff, ...payload])
  return concat(jpeg.subarray(0, 2), app1, jpeg.subarray(2))
}

/** A 16-bit PCM WAV with `channels` channels of a sine at `hz`. */
export function makeWav(seconds: number, rate: number, channels = 1, hz = 440): Uint8Array {
  const frames = Math.round(seconds * rate)
  const bytes = new Uint8Array(44 + frames * channels * 2)
  const view = new DataView(bytes.buffer)
  const ascii = (at: number, s: string) =>
    [...s].forEach((c, i) => (bytes[at + i] = c.charCodeAt(0)))
  ascii(0, 'RIFF')
  view.setUint32(4, 36 + frames * channels * 2, true)
  ascii(8, 'WAVE')
  ascii(12, 'fmt ')
  view.setUint32(16, 16, true)
  view.setUint16(20, 1, true)
  view.setUint16(22, channels, true)
  view.setUint32(24, rate, true)
  view.setUint32(28, rate * channels * 2, true)
  view.setUint16(32, channels * 2, true)
  view.setUint16(34, 16, true)
  ascii(36, 'data')
  view.setUint32(40, frames * channels * 2, true)
  for (let i = 0; i < frames; i++) {
    const s = Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * 16_000)
    for (let c = 0; c < channels; c++) view.setInt16(44 + (i * channels + c) * 2, s, true)
  }
  return bytes
}

/** base64 of `bytes` (test side; the code under test has its own strict codec). */
export function toBase64(bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}

export function dataUrl(type: string, bytes: Uint8Array): string {
  return `data:${type};base64,${toBase64(bytes)}`
}

/**
 * An MP3 (lamejs) of a sine at `hz`, mono at 64 kbps or stereo at 128 kbps: at 64 kbps stereo LAME
 * resamples to 24 kHz, and lamejs's resampler writes silence.
 */
export function makeMp3(seconds: number, rate: number, channels: 1 | 2, hz = 440): Uint8Array {
  const frames = Math.round(seconds * rate)
  const pcm = new Int16Array(frames)
  for (let i = 0; i < frames; i++)
    pcm[i] = Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * 16_000)
  const encoder = new Mp3Encoder(channels, rate, channels === 2 ? 128 : 64)
  const parts: Uint8Array[] = []
  for (let i = 0; i < frames; i += 1152) {
    const block = pcm.subarray(i, i + 1152)
    parts.push(
      channels === 2 ? encoder.encodeBuffer(block, block.slice()) : encoder.encodeBuffer(block),
    )
  }
  parts.push(encoder.flush())
  return concat(...parts)
}
