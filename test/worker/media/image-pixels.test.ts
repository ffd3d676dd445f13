/**
 * @module
 * The WASM image path's pixel and payload plumbing, in workerd: EXIF orientations 1–8 on a tiny image
 * whose every pixel is distinct, and the data: URL / base64 decoding every uploaded image goes through
 * (native `Uint8Array.fromBase64` in workerd, so the strictness checks here hold on that path).
 */
import { describe, expect, it } from 'vitest'
import { parseDataUrl } from '../../../worker/media/image/data-url.ts'
import { orientRgba } from '../../../worker/media/image/resize.ts'

/** Pixels as letters: stored 3 wide, 2 high, rows "abc" and "def". */
const STORED = 'abcdef'

function letters(pixels: Uint8Array): string {
  return [...new Uint32Array(pixels.buffer, pixels.byteOffset, pixels.length / 4)]
    .map((code) => String.fromCharCode(code))
    .join('')
}

/** Displayed rows for each orientation (EXIF 2.32, tag 0x0112), read off the spec's diagrams. */
const DISPLAYED: Array<[number, number, number, string]> = [
  [1, 3, 2, 'abc|def'],
  [2, 3, 2, 'cba|fed'], // mirrored left-right
  [3, 3, 2, 'fed|cba'], // rotated 180°
  [4, 3, 2, 'def|abc'], // mirrored top-bottom
  [5, 2, 3, 'ad|be|cf'], // transposed
  [6, 2, 3, 'da|eb|fc'], // rotated 90° clockwise
  [7, 2, 3, 'fc|eb|da'], // transversed
  [8, 2, 3, 'cf|be|ad'], // rotated 90° counter-clockwise
]

describe('orientRgba', () => {
  it.each(DISPLAYED)('orientation %i gives %ix%i %s', (orientation, width, height, rows) => {
    const pixels = new Uint8Array(Uint32Array.from(STORED, (c) => c.charCodeAt(0)).buffer)
    const upright = orientRgba({ pixels, width: 3, height: 2 }, orientation)
    expect({ width: upright.width, height: upright.height }).toEqual({ width, height })
    expect(letters(upright.pixels)).toBe(rows.replaceAll('|', ''))
  })
})

describe('parseDataUrl', () => {
  const bytes = Uint8Array.from({ length: 40 }, (_, i) => (i * 53) & 0xff)
  const base64 = btoa(String.fromCharCode(...bytes))

  it('decodes base64, with an upper-case scheme and line-wrapped payload', () => {
    const wrapped = `${base64.slice(0, 20)}\r\n${base64.slice(20)}\n`
    expect(parseDataUrl(`DATA:image/PNG;BASE64,${wrapped}`, 1024)).toEqual({
      mediaType: 'image/png',
      bytes,
    })
  })

  it.each([
    ['missing padding', base64.replace(/=+$/, '')],
    ['a stray character', `${base64.slice(0, 8)}*${base64.slice(9)}`],
    ['a cut-off final group', base64.slice(0, -3)],
  ])('refuses %s', (_name, payload) => {
    expect(() => parseDataUrl(`data:image/png;base64,${payload}`, 1024)).toThrow(
      /truncated or not valid base64/,
    )
  })

  it('refuses an empty payload', () => {
    expect(() => parseDataUrl('data:image/png;base64,', 1024)).toThrow(/empty/)
  })
})
