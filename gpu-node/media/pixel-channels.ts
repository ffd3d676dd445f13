/**
 * @module
 * Channel-count conversions of interleaved 8-bit pixels, with the arithmetic of transformers.js's
 * `RawImage.grayscale()` / `rgb()` / `rgba()` (src/utils/image.js) so preprocessing matches it exactly.
 * Grey + alpha (2 channels), which transformers.js refuses, is read as grey with alpha.
 */

/** Interleaved (HWC) 8-bit pixels. */
export interface RawPixels {
  data: Uint8Array
  width: number
  height: number
  channels: number
}

/** Returns `image` with `channels` channels (1, 3 or 4); the same object when it already has them. */
export function toChannels(image: RawPixels, channels: number): RawPixels {
  if (image.channels === channels) return image
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new Error(`Cannot convert an image to ${channels} channels`)
  }
  if (image.channels < 1 || image.channels > 4) {
    throw new Error(`Cannot convert an image with ${image.channels} channels`)
  }
  const pixels = image.width * image.height
  const out = new Uint8Array(pixels * channels)
  const read = pixelReader(image)
  const px: [number, number, number, number] = [0, 0, 0, 255]
  for (let i = 0, o = 0; i < pixels; i++) {
    read(i, px)
    if (channels === 1) {
      // ITU-R 601 luma, rounded, as RawImage.grayscale().
      out[o++] = Math.round(0.2989 * px[0] + 0.587 * px[1] + 0.114 * px[2])
    } else {
      out[o++] = px[0]
      out[o++] = px[1]
      out[o++] = px[2]
      if (channels === 4) out[o++] = px[3]
    }
  }
  return { data: out, width: image.width, height: image.height, channels }
}

/** Reads pixel `i` as RGBA (grey is replicated, missing alpha is opaque). */
function pixelReader(image: RawPixels): (i: number, px: number[]) => void {
  const { data, channels } = image
  if (channels <= 2) {
    return (i, px) => {
      const v = data[i * channels]!
      px[0] = v
      px[1] = v
      px[2] = v
      px[3] = channels === 2 ? data[i * 2 + 1]! : 255
    }
  }
  return (i, px) => {
    const o = i * channels
    px[0] = data[o]!
    px[1] = data[o + 1]!
    px[2] = data[o + 2]!
    px[3] = channels === 4 ? data[o + 3]! : 255
  }
}
