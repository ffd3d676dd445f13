/**
 * @module
 * Reads an image's format and dimensions from its first bytes, before any decoder runs, so decompression
 * bombs (a tiny file declaring 100,000 x 100,000 pixels) and unsupported or mislabelled formats are refused
 * without allocating pixels. The declared content type is never trusted: the bytes decide.
 * Layouts: JPEG (ITU T.81 B.2), PNG (RFC 2083 IHDR), GIF (GIF89a spec §18), WebP (RFC 9649 §2.5–2.7).
 */
import { MediaInputError } from '../media-error.ts'
import { readExifOrientation } from './exif-orientation.ts'

export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp'

export interface ImageHeader {
  format: ImageFormat
  width: number
  height: number
  /** EXIF orientation 1–8 (1 = as stored); only JPEG's APP1 is read. */
  orientation: number
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/** Format, size and orientation of `bytes`; throws `MediaInputError` for anything else. */
export function readImageHeader(bytes: Uint8Array): ImageHeader {
  if (bytes.length < 16)
    throw new MediaInputError('the image is too short to be an image', {
      kind: 'invalid_image_format',
    })
  const header = sniff(bytes)
  if (header.width < 1 || header.height < 1) {
    throw new MediaInputError('the image declares zero width or height', {
      kind: 'invalid_image_format',
    })
  }
  return header
}

function sniff(bytes: Uint8Array): ImageHeader {
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return readJpeg(bytes)
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return readPng(bytes)
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to))
  if (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a') {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    return {
      format: 'gif',
      width: view.getUint16(6, true),
      height: view.getUint16(8, true),
      orientation: 1,
    }
  }
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return readWebp(bytes)
  throw new MediaInputError('unsupported image format (send JPEG, PNG, WebP or GIF)', {
    kind: 'invalid_image_format',
  })
}

/** Walks the marker segments up to the first start-of-frame; APP1 Exif on the way gives the orientation. */
function readJpeg(bytes: Uint8Array): ImageHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let orientation = 1
  let offset = 2
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff)
      throw new MediaInputError('the JPEG marker structure is corrupt', {
        kind: 'invalid_image_format',
      })
    const marker = bytes[offset + 1] as number
    if (marker === 0xff) {
      offset += 1 // fill byte
      continue
    }
    const length = view.getUint16(offset + 2)
    if (length < 2 || offset + 2 + length > bytes.length) break
    const isFrame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)
    if (isFrame && length >= 7) {
      const height = view.getUint16(offset + 5)
      const width = view.getUint16(offset + 7)
      return { format: 'jpeg', width, height, orientation }
    }
    if (marker === 0xda) break // start of scan before any frame header
    if (marker === 0xe1) {
      orientation =
        readExifOrientation(bytes.subarray(offset + 4, offset + 2 + length)) ?? orientation
    }
    offset += 2 + length
  }
  throw new MediaInputError('the JPEG has no readable frame header (truncated or corrupt)', {
    kind: 'invalid_image_format',
  })
}

function readPng(bytes: Uint8Array): ImageHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (bytes.length < 24 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') {
    throw new MediaInputError('the PNG has no IHDR chunk (truncated or corrupt)', {
      kind: 'invalid_image_format',
    })
  }
  return { format: 'png', width: view.getUint32(16), height: view.getUint32(20), orientation: 1 }
}

function readWebp(bytes: Uint8Array): ImageHeader {
  if (bytes.length < 30)
    throw new MediaInputError('the WebP is truncated', { kind: 'invalid_image_format' })
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const chunk = String.fromCharCode(...bytes.subarray(12, 16))
  const u24 = (at: number) => view.getUint16(at, true) | ((bytes[at + 2] as number) << 16)
  if (chunk === 'VP8X') {
    return { format: 'webp', width: u24(24) + 1, height: u24(27) + 1, orientation: 1 }
  }
  if (chunk === 'VP8 ') {
    if (bytes[23] !== 0x9d || bytes[24] !== 0x01 || bytes[25] !== 0x2a) {
      throw new MediaInputError('the WebP (VP8) frame header is corrupt', {
        kind: 'invalid_image_format',
      })
    }
    const width = view.getUint16(26, true) & 0x3fff
    const height = view.getUint16(28, true) & 0x3fff
    return { format: 'webp', width, height, orientation: 1 }
  }
  if (chunk === 'VP8L') {
    if (bytes[20] !== 0x2f)
      throw new MediaInputError('the WebP (VP8L) header is corrupt', {
        kind: 'invalid_image_format',
      })
    const bits = view.getUint32(21, true)
    return {
      format: 'webp',
      width: (bits & 0x3fff) + 1,
      height: ((bits >>> 14) & 0x3fff) + 1,
      orientation: 1,
    }
  }
  throw new MediaInputError('the WebP has no image chunk', { kind: 'invalid_image_format' })
}
