/**
 * @module
 * The Worker the media benchmark (test/bench/media/run.ts) runs in `wrangler dev`: it shapes the body it
 * is sent with the edge's own code, on the path the query names, and answers with the bytes produced.
 * Timing is taken outside, by the client (workerd's clock does not advance during CPU work).
 * `POST /image?path=wasm|binding` (body: the image as base64), `POST /audio?format=wav|mp3` (body: the
 * clip as base64), `POST /noop` (the round-trip floor). `shapeMs` is the isolate's own clock around the
 * shaping call (it advances in local workerd; in production it would be frozen during CPU work).
 */
import { shapeAudio } from '../../../../worker/media/audio/shape-audio.ts'
import { shapeImage } from '../../../../worker/media/image/shape-image.ts'

interface BenchEnv {
  IMAGES: ImagesBinding
}

export default {
  async fetch(request: Request, env: BenchEnv): Promise<Response> {
    const url = new URL(request.url)
    const base64 = await request.text()
    if (url.pathname === '/noop') return Response.json({ bytesOut: 0, shapeMs: 0 })
    const start = performance.now()
    if (url.pathname === '/image') {
      const images = url.searchParams.get('path') === 'binding' ? env.IMAGES : undefined
      // Clients send images as data: URLs, so the base64 decode is part of the work measured.
      const shaped = await shapeImage({ url: `data:;base64,${base64}` }, { images })
      return Response.json({ bytesOut: shaped.bytes.length, shapeMs: performance.now() - start })
    }
    const format = url.searchParams.get('format') === 'mp3' ? 'mp3' : 'wav'
    const shaped = await shapeAudio(base64, format)
    return Response.json({ bytesOut: shaped.wav.length, shapeMs: performance.now() - start })
  },
} satisfies ExportedHandler<BenchEnv>
