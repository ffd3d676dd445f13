/**
 * @module
 * Benchmark inputs, made in Node: a 12 MP JPEG (phone photo size), a 4 MP PNG and a 3 MP WebP with
 * photo-like detail (smooth gradients plus sensor-like noise, so the entropy coder has real work), and a
 * 30 s stereo 44.1 kHz clip as WAV and as 128 kbps MP3.
 */
import { Mp3Encoder } from '@breezystack/lamejs'
import sharp from 'sharp'

export interface MediaFixture {
  name: string
  kind: 'image' | 'audio'
  /** Query for the bench worker (`format=mp3`), images none. */
  query: string
  bytes: Uint8Array
}

/** RGB pixels: gradients and waves with deterministic noise. */
function photoLike(width: number, height: number): Buffer {
  const raw = Buffer.alloc(width * height * 3)
  let seed = 1
  const noise = () => ((seed = (seed * 1_103_515_245 + 12_345) >>> 0) / 4_294_967_296) * 24
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const base = 128 + 60 * Math.sin(x / 37 + y / 53) + 40 * Math.cos((x * y) / 90_000)
      const i = (y * width + x) * 3
      raw[i] = Math.max(0, Math.min(255, base + noise()))
      raw[i + 1] = Math.max(0, Math.min(255, 255 - base + noise()))
      raw[i + 2] = Math.max(0, Math.min(255, (x + y) / 28 + noise()))
    }
  }
  return raw
}

async function image(
  width: number,
  height: number,
  format: 'jpeg' | 'png' | 'webp',
): Promise<Uint8Array> {
  const input = sharp(photoLike(width, height), { raw: { width, height, channels: 3 } })
  const encoded =
    format === 'jpeg'
      ? input.jpeg({ quality: 90 })
      : format === 'png'
        ? input.png()
        : input.webp({ quality: 85 })
  return new Uint8Array(await encoded.toBuffer())
}

/** 30 s of a chord with a little noise, stereo 16-bit. */
function clip(rate: number): { left: Int16Array; right: Int16Array } {
  const frames = rate * 30
  const left = new Int16Array(frames)
  const right = new Int16Array(frames)
  for (let i = 0; i < frames; i++) {
    const t = i / rate
    const s =
      0.3 * Math.sin(2 * Math.PI * 220 * t) +
      0.2 * Math.sin(2 * Math.PI * 330 * t) +
      0.02 * Math.sin(i * 12.9898)
    left[i] = Math.round(s * 32_767)
    right[i] = Math.round(s * 0.8 * 32_767)
  }
  return { left, right }
}

function wav(rate: number, left: Int16Array, right: Int16Array): Uint8Array {
  const frames = left.length
  const out = Buffer.alloc(44 + frames * 4)
  out.write('RIFF', 0)
  out.writeUInt32LE(36 + frames * 4, 4)
  out.write('WAVEfmt ', 8)
  out.writeUInt32LE(16, 16)
  out.writeUInt16LE(1, 20)
  out.writeUInt16LE(2, 22)
  out.writeUInt32LE(rate, 24)
  out.writeUInt32LE(rate * 4, 28)
  out.writeUInt16LE(4, 32)
  out.writeUInt16LE(16, 34)
  out.write('data', 36)
  out.writeUInt32LE(frames * 4, 40)
  for (let i = 0; i < frames; i++) {
    out.writeInt16LE(left[i]!, 44 + i * 4)
    out.writeInt16LE(right[i]!, 46 + i * 4)
  }
  return new Uint8Array(out)
}

function mp3(rate: number, left: Int16Array, right: Int16Array): Uint8Array {
  const encoder = new Mp3Encoder(2, rate, 128)
  const parts: Uint8Array[] = []
  for (let i = 0; i < left.length; i += 1152) {
    parts.push(encoder.encodeBuffer(left.subarray(i, i + 1152), right.subarray(i, i + 1152)))
  }
  parts.push(encoder.flush())
  // lamejs returns Int8Array views at run time whatever its types say.
  return new Uint8Array(
    Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))),
  )
}

export async function makeFixtures(): Promise<MediaFixture[]> {
  const { left, right } = clip(44_100)
  return [
    {
      name: 'JPEG 4000x3000 (12 MP)',
      kind: 'image',
      query: '',
      bytes: await image(4000, 3000, 'jpeg'),
    },
    {
      name: 'PNG 2448x1632 (4 MP)',
      kind: 'image',
      query: '',
      bytes: await image(2448, 1632, 'png'),
    },
    {
      name: 'WebP 2000x1500 (3 MP)',
      kind: 'image',
      query: '',
      bytes: await image(2000, 1500, 'webp'),
    },
    {
      name: 'WAV 30 s 44.1 kHz stereo',
      kind: 'audio',
      query: 'format=wav',
      bytes: wav(44_100, left, right),
    },
    {
      name: 'MP3 30 s 44.1 kHz stereo',
      kind: 'audio',
      query: 'format=mp3',
      bytes: mp3(44_100, left, right),
    },
  ]
}
