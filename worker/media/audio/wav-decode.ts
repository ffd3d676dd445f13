/**
 * @module
 * RIFF/WAVE decoding: PCM 8/16/24/32-bit, IEEE float 32/64, plain or WAVE_FORMAT_EXTENSIBLE. The
 * duration is checked from the header before any sample is converted.
 * Layout: Microsoft "Multimedia Programming Interface and Data Specifications 1.0", WAVE chapter.
 */
import { MediaInputError } from '../media-error.ts'
import type { DecodedAudio } from './pcm.ts'

const PCM = 1
const FLOAT = 3
const EXTENSIBLE = 0xfffe

interface WavFormat {
  format: number
  channels: number
  sampleRate: number
  bits: number
}

/** True when `bytes` start like a WAVE file. */
export function looksLikeWav(bytes: Uint8Array): boolean {
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4))
  return bytes.length >= 12 && tag(0) === 'RIFF' && tag(8) === 'WAVE'
}

/** Decodes a WAV file, refusing clips longer than `maxSeconds` before converting samples. */
export function decodeWav(bytes: Uint8Array, maxSeconds: number): DecodedAudio {
  if (!looksLikeWav(bytes)) throw new MediaInputError('the audio is not a RIFF/WAVE file')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let fmt: WavFormat | null = null
  let offset = 12
  while (offset + 8 <= bytes.length) {
    const id = String.fromCharCode(...bytes.subarray(offset, offset + 4))
    const size = view.getUint32(offset + 4, true)
    const body = offset + 8
    if (id === 'fmt ') fmt = readFormat(view, body, size)
    if (id === 'data') {
      if (!fmt) throw new MediaInputError("the WAV header has no 'fmt ' chunk before its data")
      // Streaming writers leave the size at 0 or 0xFFFFFFFF: take what is there.
      const available = bytes.length - body
      const length = size === 0 || size > available ? available : size
      return decodeSamples(view, body, length, fmt, maxSeconds)
    }
    offset = body + size + (size % 2)
  }
  throw new MediaInputError("the WAV file has no 'data' chunk (broken header or truncated)")
}

function readFormat(view: DataView, at: number, size: number): WavFormat {
  if (size < 16 || at + 16 > view.byteLength)
    throw new MediaInputError("the WAV 'fmt ' chunk is truncated")
  let format = view.getUint16(at, true)
  const channels = view.getUint16(at + 2, true)
  const sampleRate = view.getUint32(at + 4, true)
  const bits = view.getUint16(at + 14, true)
  if (format === EXTENSIBLE && size >= 40 && at + 26 <= view.byteLength)
    format = view.getUint16(at + 24, true)
  const supported =
    (format === PCM && [8, 16, 24, 32].includes(bits)) ||
    (format === FLOAT && (bits === 32 || bits === 64))
  if (!supported)
    throw new MediaInputError(`unsupported WAV encoding (format ${format}, ${bits}-bit)`)
  if (channels < 1 || channels > 8)
    throw new MediaInputError(`unsupported WAV channel count ${channels}`)
  if (sampleRate < 1_000 || sampleRate > 384_000) {
    throw new MediaInputError(`unsupported WAV sample rate ${sampleRate}`)
  }
  return { format, channels, sampleRate, bits }
}

function decodeSamples(
  view: DataView,
  at: number,
  length: number,
  fmt: WavFormat,
  maxSeconds: number,
): DecodedAudio {
  const bytesPerSample = fmt.bits / 8
  const frames = Math.floor(length / (bytesPerSample * fmt.channels))
  if (frames === 0) throw new MediaInputError('the audio clip is empty')
  if (frames / fmt.sampleRate > maxSeconds) {
    throw new MediaInputError(`the audio clip is longer than ${Math.floor(maxSeconds)} s`)
  }
  const read = sampleReader(view, fmt)
  const channels = Array.from({ length: fmt.channels }, () => new Float32Array(frames))
  let p = at
  for (let i = 0; i < frames; i++) {
    for (const channel of channels) {
      channel[i] = read(p)
      p += bytesPerSample
    }
  }
  return { channels, sampleRate: fmt.sampleRate }
}

function sampleReader(view: DataView, fmt: WavFormat): (at: number) => number {
  if (fmt.format === FLOAT) {
    return fmt.bits === 32 ? (at) => view.getFloat32(at, true) : (at) => view.getFloat64(at, true)
  }
  switch (fmt.bits) {
    case 8:
      return (at) => (view.getUint8(at) - 128) / 128
    case 16:
      return (at) => view.getInt16(at, true) / 32_768
    case 24:
      return (at) =>
        ((view.getUint8(at + 2) << 24) | (view.getUint16(at, true) << 8)) / 2_147_483_648
    default:
      return (at) => view.getInt32(at, true) / 2_147_483_648
  }
}
