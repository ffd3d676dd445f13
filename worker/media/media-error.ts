/**
 * @module
 * The one way media shaping refuses a part: a 400 `invalid_request_error` whose `param` names the part
 * (`messages[1].content[0]`), so a client with several images knows which one was refused.
 */
import { BadRequestError } from '../errors.ts'

/**
 * How a part was bad, as OpenAI codes image errors: an image URL that could not be read (`data:` URL
 * malformed, fetch refused or failed), bytes that are not a decodable image, or anything else (a size
 * limit, audio), with no code.
 */
export type MediaErrorKind = 'invalid_image_url' | 'invalid_image_format' | 'invalid_request'

/** A 400 for the content part at `param`. */
export class MediaPartError extends BadRequestError {
  constructor(param: string, message: string, kind: MediaErrorKind = 'invalid_request') {
    super(`${param}: ${message}`, param, kind)
    this.name = 'MediaPartError'
  }
}

/**
 * Thrown by decoders and parsers that do not know which part they work on; `shapeMessages` catches it and
 * rethrows it as a `MediaPartError` with the part's path.
 */
export class MediaInputError extends Error {
  readonly kind: MediaErrorKind

  constructor(message: string, options?: ErrorOptions & { kind?: MediaErrorKind }) {
    super(message, options)
    this.name = 'MediaInputError'
    this.kind = options?.kind ?? 'invalid_request'
  }
}
