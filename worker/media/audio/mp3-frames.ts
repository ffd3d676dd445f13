/**
 * @module
 * Walks MPEG-1/2/2.5 audio frame headers (ISO/IEC 11172-3 §2.4.2.3, 13818-3) to prove a file is MPEG
 * audio and to learn its duration before the decoder runs: a broken header is refused in microseconds,
 * and so is a 40-minute podcast sent as "a clip".
 */
import { MediaInputError } from '../media-error.ts'

export interface Mp3Probe {
  frames: number
  sampleRate: number
  seconds: number
}

// kbps by [version group][layer][index]; index 0 (free format) and 15 are invalid.
const BITRATES = {
  v1: {
    1: [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    2: [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    3: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  },
  v2: {
    1: [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    3: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  },
} as const
const SAMPLE_RATES = {
  3: [44_100, 48_000, 32_000],
  2: [22_050, 24_000, 16_000],
  0: [11_025, 12_000, 8_000],
}

interface Frame {
  length: number
  samples: number
  sampleRate: number
}

/** The frame whose header starts at `at`, or `null` when there is none. */
function frameAt(bytes: Uint8Array, at: number): Frame | null {
  if (at + 4 > bytes.length || bytes[at] !== 0xff || ((bytes[at + 1] as number) & 0xe0) !== 0xe0)
    return null
  const b1 = bytes[at + 1] as number
  const b2 = bytes[at + 2] as number
  const version = (b1 >> 3) & 3 // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5, 1 = reserved
  const layerBits = (b1 >> 1) & 3 // 3 = layer I, 2 = II, 1 = III
  const bitrateIndex = b2 >> 4
  const rateIndex = (b2 >> 2) & 3
  if (
    version === 1 ||
    layerBits === 0 ||
    bitrateIndex === 0 ||
    bitrateIndex === 15 ||
    rateIndex === 3
  ) {
    return null
  }
  const layer = (4 - layerBits) as 1 | 2 | 3
  const kbps = BITRATES[version === 3 ? 'v1' : 'v2'][layer][bitrateIndex] as number
  const sampleRate = SAMPLE_RATES[version as 0 | 2 | 3][rateIndex] as number
  const padding = (b2 >> 1) & 1
  const bitrate = kbps * 1000
  if (layer === 1)
    return {
      length: (Math.floor((12 * bitrate) / sampleRate) + padding) * 4,
      samples: 384,
      sampleRate,
    }
  const mono = layer === 3 && version !== 3 // MPEG-2/2.5 layer III frames hold 576 samples
  const length = Math.floor(((mono ? 72 : 144) * bitrate) / sampleRate) + padding
  return { length, samples: mono ? 576 : 1152, sampleRate }
}

/** Bytes to skip for a leading ID3v2 tag (ID3v2.4 §3.1: syncsafe size, optional footer). */
function id3Length(bytes: Uint8Array): number {
  if (bytes.length < 10 || String.fromCharCode(...bytes.subarray(0, 3)) !== 'ID3') return 0
  const size = bytes.subarray(6, 10).reduce((acc, b) => acc * 128 + (b & 0x7f), 0)
  return 10 + size + (((bytes[5] as number) & 0x10) !== 0 ? 10 : 0)
}

/** True when `bytes` start like an MP3 (ID3 tag or two chained frame headers). */
export function looksLikeMp3(bytes: Uint8Array): boolean {
  const start = id3Length(bytes)
  if (start > 0) return true
  const first = frameAt(bytes, 0)
  return first !== null && frameAt(bytes, first.length) !== null
}

/** Counts the frames of an MP3; throws `MediaInputError` when no frame sequence is found. */
export function probeMp3(bytes: Uint8Array): Mp3Probe {
  let at = id3Length(bytes)
  // Find the first header that is followed by another (a lone 0xFFE pattern can occur in junk).
  while (at + 4 <= bytes.length) {
    const frame = frameAt(bytes, at)
    if (frame && (at + frame.length === bytes.length || frameAt(bytes, at + frame.length))) break
    at++
  }
  let frames = 0
  let samples = 0
  let sampleRate = 0
  while (at + 4 <= bytes.length) {
    const frame = frameAt(bytes, at)
    if (!frame) break // trailing tag (ID3v1 'TAG', APE) or junk
    frames++
    samples += frame.samples
    sampleRate = frame.sampleRate
    at += frame.length
  }
  if (frames === 0)
    throw new MediaInputError('the MP3 has no valid MPEG audio frame (broken header)')
  return { frames, sampleRate, seconds: samples / sampleRate }
}
