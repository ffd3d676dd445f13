/**
 * @module
 * Every limit and target size of the edge's media shaping, in one table, so the README, the tests and the
 * code agree. Sizes follow gemma3n-contract.md §6–§7: the processor resizes every image to 768x768 and the
 * audio feature extractor takes at most 30 s of 16 kHz mono.
 */

export const MEDIA_LIMITS = {
  /** `image_url` parts per request (each costs 256 soft tokens and an encoder pass on the node). */
  maxImagesPerRequest: 8,
  /** `input_audio` parts per request. */
  maxClipsPerRequest: 4,
  /** Encoded bytes of one image, from a data: URL or an https fetch. */
  maxImageBytes: 16 * 1024 * 1024,
  /**
   * Decompression-bomb cap, checked on the header dimensions before any decode: 50 MP covers phone
   * cameras (12–50 MP) while keeping a full RGBA decode under 200 MB on the WASM path.
   */
  maxImagePixels: 50_000_000,
  /**
   * The WASM path decodes PNG, WebP and GIF at full size (no scaled decode exists for them): 16 MP is
   * 64 MB of RGBA, half of a Worker's 128 MB. JPEG is decoded at a reduced scale and needs no such cap.
   */
  maxFullDecodePixels: 16_000_000,
  /** Longest side forwarded for `detail: auto | high`: the processor's 768x768 input. */
  highDetailSide: 768,
  /**
   * Longest side for `detail: low`: 512, a resolution MobileNet-V5 is trained on and OpenAI's low-detail
   * size. The node still upsamples to 768x768, so low trades detail for bytes and edge time, not tokens.
   */
  lowDetailSide: 512,
  /** JPEG quality of re-encoded images (forwarded bytes against visible loss at 768 px). */
  jpegQuality: 85,
  /** https image fetches: whole-fetch timeout, redirects followed by hand, each hop re-checked. */
  fetchTimeoutMs: 10_000,
  maxRedirects: 3,
  /** Encoded bytes of one audio clip. */
  maxAudioBytes: 8 * 1024 * 1024,
  /** Longest clip the audio encoder takes (480,000 samples at 16 kHz, contract §5). */
  maxAudioSeconds: 30,
  /**
   * Shortest clip: one 32 ms frame of the log-mel extractor (512 samples at 16 kHz, contract §7). The node
   * takes a little less (it pads to a multiple of 128 samples first, so 385 make a frame), but a frame
   * that is a quarter padding is not worth a request's audio tokens: the edge asks for a whole one.
   */
  minAudioSeconds: 0.032,
  /** Sample rate the node's log-mel extractor expects (contract §7). */
  audioSampleRate: 16_000,
} as const
