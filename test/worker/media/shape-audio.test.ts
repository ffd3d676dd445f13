/**
 * @module
 * Audio shaping in workerd: WAV and MP3 in, 16 kHz mono 16-bit WAV out, with the duration kept, the tone
 * kept and frequencies above 8 kHz removed (anti-aliasing); over-long, too short, silent, empty and broken
 * clips refused.
 */
import { describe, expect, it } from 'vitest'
import { shapeAudio } from '../../../worker/media/audio/shape-audio.ts'
import { decodeWav } from '../../../worker/media/audio/wav-decode.ts'
import { MediaInputError } from '../../../worker/media/media-error.ts'
import { makeMp3, makeWav, toBase64 } from './support/fixtures.ts'

/** Amplitude of the `hz` component of `x` at `rate` (one DFT bin). */
function amplitudeAt(x: Float32Array, rate: number, hz: number): number {
  let re = 0
  let im = 0
  for (let i = 0; i < x.length; i++) {
    re += x[i]! * Math.cos((2 * Math.PI * hz * i) / rate)
    im -= x[i]! * Math.sin((2 * Math.PI * hz * i) / rate)
  }
  return (2 * Math.hypot(re, im)) / x.length
}

function decoded(wav: Uint8Array) {
  const audio = decodeWav(wav, 31)
  return { rate: audio.sampleRate, channels: audio.channels.length, samples: audio.channels[0]! }
}

describe('shapeAudio', () => {
  it('turns a 44.1 kHz stereo WAV into 16 kHz mono, same duration and tone', async () => {
    const shaped = await shapeAudio(toBase64(makeWav(2, 44_100, 2, 440)), 'wav')
    const out = decoded(shaped.wav)
    expect(out).toMatchObject({ rate: 16_000, channels: 1 })
    expect(out.samples.length).toBe(32_000)
    expect(amplitudeAt(out.samples, 16_000, 440)).toBeGreaterThan(0.4)
  })

  it('filters out a 12 kHz tone instead of aliasing it to 4 kHz', async () => {
    const shaped = await shapeAudio(toBase64(makeWav(1, 48_000, 1, 12_000)), 'wav')
    const out = decoded(shaped.wav)
    // Point-sampling 12 kHz at 16 kHz folds it onto 4 kHz at full amplitude (~0.49).
    expect(amplitudeAt(out.samples, 16_000, 4_000)).toBeLessThan(0.01)
  })

  it.each([1, 2] as const)('decodes a %i-channel MP3 to 16 kHz mono', async (channels) => {
    const shaped = await shapeAudio(toBase64(makeMp3(3, 44_100, channels)), 'mp3')
    const out = decoded(shaped.wav)
    expect(out).toMatchObject({ rate: 16_000, channels: 1 })
    expect(out.samples.length / 16_000).toBeGreaterThan(2.9)
    expect(out.samples.length / 16_000).toBeLessThan(3.2)
    expect(amplitudeAt(out.samples.subarray(8_000, 40_000), 16_000, 440)).toBeGreaterThan(0.3)
  })

  it('accepts one 32 ms frame, and a tone far below full scale', async () => {
    expect((await shapeAudio(toBase64(makeWav(0.032, 16_000)), 'wav')).seconds).toBe(0.032)
    // Quiet is not silent: only samples that are all 0 at 16 bits are refused.
    const quiet = makeWav(1, 16_000)
    const view = new DataView(quiet.buffer)
    for (let at = 44; at < quiet.length; at += 2)
      view.setInt16(at, Math.sign(view.getInt16(at, true)), true)
    expect((await shapeAudio(toBase64(quiet), 'wav')).seconds).toBe(1)
  })

  it('accepts exactly 30 s and refuses longer clips, WAV and MP3', async () => {
    expect((await shapeAudio(toBase64(makeWav(30, 16_000)), 'wav')).seconds).toBe(30)
    await expect(shapeAudio(toBase64(makeWav(31, 16_000)), 'wav')).rejects.toThrow(
      /longer than 30 s/,
    )
    await expect(shapeAudio(toBase64(makeMp3(32, 16_000, 1)), 'mp3')).rejects.toThrow(
      /longer than 30 s/,
    )
  })

  const cases: Array<[string, () => string, 'wav' | 'mp3', RegExp]> = [
    ['a zero-length WAV', () => toBase64(makeWav(0, 16_000)), 'wav', /empty/],
    [
      'a clip shorter than one 32 ms frame',
      () => toBase64(makeWav(0.02, 16_000)),
      'wav',
      /20\.0 ms long; at least 32 ms/,
    ],
    [
      'digital silence (a muted microphone)',
      () => toBase64(makeWav(1, 16_000, 1, 0)),
      'wav',
      /silent/,
    ],
    ['empty base64', () => '', 'wav', /empty/],
    [
      'truncated base64',
      () => toBase64(makeWav(1, 16_000)).slice(0, -3),
      'wav',
      /truncated|not valid/,
    ],
    [
      'a WAV with a broken header',
      () => toBase64(makeWav(1, 16_000).subarray(0, 30)),
      'wav',
      /truncated|header/,
    ],
    [
      'random bytes as MP3',
      () => toBase64(new Uint8Array(4096).fill(0x55)),
      'mp3',
      /no valid MPEG/,
    ],
    ['MP3 bytes declared as WAV', () => toBase64(makeMp3(1, 16_000, 1)), 'wav', /data is MP3/],
    ['WAV bytes declared as MP3', () => toBase64(makeWav(1, 16_000)), 'mp3', /data is WAV/],
  ]
  it.each(cases)('refuses %s', async (_name, data, format, message) => {
    const attempt = shapeAudio(data(), format)
    await expect(attempt).rejects.toBeInstanceOf(MediaInputError)
    await expect(attempt).rejects.toThrow(message)
  })
})
