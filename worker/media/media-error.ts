/**
 * @module
 * The one way media shaping refuses a part: a 400 `invalid_request_error` whose `param` names the part
 * (`messages[1].content[0]`), so a client with several images knows which one was refused.
 */
import { BadRequestError } from '../errors.ts'

/** A 400 for the content part at `param`. */
export class MediaPartError extends BadRequestError {
  constructor(param: string, message: string) {
    super(`${param}: ${message}`, param)
    this.name = 'MediaPartError'
  }
}

/**
 * Thrown by decoders and parsers that do not know which part they work on; `shapeMessages` catches it and
 * rethrows it as a `MediaPartError` with the part's path.
 */
export class MediaInputError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'MediaInputError'
  }
}
