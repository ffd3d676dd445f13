/**
 * @module
 * Images the edge must refuse with a 400 naming the part, never a 500 or a crash: corrupt and truncated
 * data, unsupported formats, lying content types, decompression bombs, and too many images.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { shapeImage } from '../../../worker/media/image/shape-image.ts'
import { MediaInputError } from '../../../worker/media/media-error.ts'
import type { MediaErrorKind } from '../../../worker/media/media-error.ts'
import { shapeMessages } from '../../../worker/media/shape-messages.ts'
import { parseChatRequest } from '../../../shared/chat-request.ts'
import {
  concat,
  dataUrl,
  halves,
  makePng,
  pngHeader,
  toBase64,
  transcode,
} from './support/fixtures.ts'

const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

async function jpegFixture(): Promise<Uint8Array> {
  return transcode(await makePng(400, 300, halves(400)), 'image/jpeg')
}

/** A JPEG whose headers are intact and whose entropy-coded data is noise. */
async function corruptJpeg(): Promise<Uint8Array> {
  const jpeg = await jpegFixture()
  const sos = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xda)
  const broken = jpeg.slice()
  for (let i = sos + 20; i < broken.length - 2; i++) broken[i] = (i * 37) & 0xfe
  return broken
}

const CASES: Array<[string, () => Promise<string>, RegExp, MediaErrorKind]> = [
  [
    'truncated base64',
    async () => dataUrl('image/jpeg', await jpegFixture()).slice(0, -2),
    /truncated|base64/,
    'invalid_request',
  ],
  ['a non-base64 data: URL', async () => 'data:image/png,%89PNG', /base64/, 'invalid_image_url'],
  [
    'an unsupported format (BMP)',
    async () => dataUrl('image/bmp', new Uint8Array(64).fill(0x42)),
    /unsupported image format/,
    'invalid_image_format',
  ],
  [
    'a lying content type',
    async () => dataUrl('image/png', await jpegFixture()),
    /declared as 'image\/png' but the data is JPEG/,
    'invalid_image_format',
  ],
  [
    'a non-image content type',
    async () => dataUrl('text/html', await jpegFixture()),
    /declared as 'text\/html'/,
    'invalid_image_format',
  ],
  [
    'huge dimensions in a tiny file',
    async () => dataUrl('image/png', concat(PNG_SIGNATURE, pngHeader(100_000, 100_000))),
    /100000x100000/,
    'invalid_request',
  ],
  [
    'a truncated JPEG',
    async () => dataUrl('image/jpeg', (await jpegFixture()).subarray(0, 400)),
    /corrupt|truncated/,
    'invalid_image_format',
  ],
  [
    'a JPEG with corrupt scan data',
    async () => dataUrl('image/jpeg', await corruptJpeg()),
    /corrupt|truncated|decoded/,
    'invalid_image_format',
  ],
  [
    'a PNG without image data',
    async () => dataUrl('image/png', concat(PNG_SIGNATURE, pngHeader(64, 64))),
    /corrupt|truncated|decoded/,
    'invalid_image_format',
  ],
  ['a plain http URL', async () => 'http://example.com/cat.jpg', /only https/, 'invalid_image_url'],
  [
    'a file URL, by its scheme',
    async () => 'file:///etc/passwd',
    /cannot fetch a file: URL: only https/,
    'invalid_image_url',
  ],
]

describe.each([
  ['wasm', () => ({})],
  ['images binding', () => ({ images: env.IMAGES })],
])('shapeImage refusals (%s)', (_path, options) => {
  it.each(CASES)('refuses %s', async (_name, url, message, kind) => {
    const attempt = shapeImage({ url: await url() }, options())
    await expect(attempt).rejects.toBeInstanceOf(MediaInputError)
    await expect(attempt).rejects.toThrow(message)
    // The code a client sees: an unreadable URL, bytes that are no image, or neither (a limit).
    await expect(attempt).rejects.toMatchObject({ kind })
  })

  it('still works after a refusal (no poisoned codec state)', async () => {
    await expect(
      shapeImage({ url: dataUrl('image/jpeg', await corruptJpeg()) }, options()),
    ).rejects.toThrow()
    const ok = await shapeImage({ url: dataUrl('image/jpeg', await jpegFixture()) }, options())
    expect(ok.width).toBe(400)
  })

  it('reads the data: scheme in any case, as URL schemes are', async () => {
    const upper = dataUrl('image/jpeg', await jpegFixture()).replace(/^data:/, 'DATA:')
    expect((await shapeImage({ url: upper }, options())).width).toBe(400)
  })
})

describe('shapeMessages', () => {
  const request = (content: unknown[]) => {
    const parsed = parseChatRequest({
      model: 'm',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'user', content },
      ],
    })
    if (!parsed.ok) throw new Error(parsed.problem.message)
    return {
      request: parsed.request,
      wire: [
        { role: 'user', content: 'hi' },
        { role: 'user', content },
      ],
    }
  }

  it('names the refused part in param and message', async () => {
    const png = await makePng(64, 64, halves(64))
    const { request: r, wire } = request([
      { type: 'text', text: 'look' },
      { type: 'image_url', image_url: { url: dataUrl('image/png', png) } },
      { type: 'image_url', image_url: { url: dataUrl('image/jpeg', png) } },
    ])
    const attempt = shapeMessages(r, wire)
    await expect(attempt).rejects.toMatchObject({
      status: 400,
      param: 'messages[1].content[2]',
      type: 'invalid_request_error',
      code: 'invalid_image_format',
    })
    await expect(attempt).rejects.toThrow(
      /^messages\[1\]\.content\[2\]: declared as 'image\/jpeg' but the data is PNG/,
    )
  })

  it('refuses more than 8 images or 4 clips per request before decoding any', async () => {
    const image = { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }
    const clip = {
      type: 'input_audio',
      input_audio: { data: toBase64(new Uint8Array(3)), format: 'wav' },
    }
    const many = request(new Array(9).fill(image))
    await expect(shapeMessages(many.request, many.wire)).rejects.toMatchObject({
      status: 400,
      param: 'messages',
    })
    const clips = request(new Array(5).fill(clip))
    await expect(shapeMessages(clips.request, clips.wire)).rejects.toThrow(/At most 4 audio clips/)
  })

  it('replaces media parts with shaped ones and keeps the rest', async () => {
    const png = await makePng(1000, 500, halves(1000))
    const { request: r, wire } = request([
      { type: 'image_url', image_url: { url: dataUrl('image/png', png), detail: 'low' } },
      { type: 'text', text: 'what is this?' },
    ])
    const { messages, stats } = await shapeMessages(r, wire)
    expect(messages[0]).toEqual(wire[0])
    type Part = { type: string; image_url?: { url: string; detail?: string } }
    const content = (messages[1] as { content: Part[] }).content
    expect(content[0]!.image_url?.url).toMatch(/^data:image\/jpeg;base64,\/9j\//)
    expect(content[0]!.image_url?.detail).toBe('low')
    expect(content[1]).toEqual({ type: 'text', text: 'what is this?' })
    expect(stats).toMatchObject({ images: 1, clips: 0, bytesIn: png.length })
    expect(stats.bytesOut).toBeGreaterThan(0)
  })
})
