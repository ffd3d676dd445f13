/**
 * @module
 * Reads a JSON request body once, with a size cap that holds even when `content-length` is absent or lies:
 * the declared length is checked first (cheap refusal), then the bytes are counted while reading and the
 * read stops at the limit. Puts the parsed (still unvalidated) value in `c.var.jsonBody`. A body that
 * breaks off is the client leaving (499), not a server error.
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env.ts'
import {
  BadRequestError,
  ClientClosedError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from '../errors.ts'
import { readCapped } from '../streaming/read-capped.ts'

export interface JsonBodyOptions {
  maxBytes: number
}

/** `application/json` or any `+json` type, with or without parameters (RFC 6839). */
const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i

/**
 * Enforces size (413), content type (415) and JSON syntax (400 `invalid_json`), in that order.
 * @example
 * app.post('/v1/chat/completions', jsonBody({ maxBytes: CHAT_LIMITS.maxBodyBytes }), handler)
 */
export const jsonBody = (options: JsonBodyOptions): MiddlewareHandler<AppEnv> => {
  if (!(options.maxBytes > 0)) throw new Error('jsonBody requires a positive "maxBytes"')
  const { maxBytes } = options
  return async function jsonBody(c, next) {
    const declared = Number(c.req.header('content-length') ?? '0')
    if (declared > maxBytes) throw new PayloadTooLargeError(maxBytes)
    if (!JSON_TYPE.test(c.req.header('content-type') ?? '')) throw new UnsupportedMediaTypeError()
    const bytes = await readCapped(
      c.req.raw.body,
      maxBytes,
      () => new PayloadTooLargeError(maxBytes),
    ).catch((error: unknown) => {
      if (error instanceof PayloadTooLargeError) throw error
      // The body broke off ("Network connection lost"): the client stopped sending, not a server fault.
      throw new ClientClosedError(
        'The client closed the request before sending its whole body.',
        error,
      )
    })
    let value: unknown
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes))
    } catch {
      throw new BadRequestError('The request body is not valid JSON.', null, 'invalid_json')
    }
    c.set('jsonBody', value)
    await next()
  }
}
