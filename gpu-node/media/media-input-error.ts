/**
 * @module
 * The one error the media layer throws for bad client input (an image that does not decode, a WAV in a
 * format the node does not take, a clip too short to frame). The HTTP layer turns it into a 400 naming the
 * message part; anything else from this layer is a server fault.
 */

export type MediaKind = 'image' | 'audio'

/** A client-supplied image or audio clip the node cannot use; the message says why in plain words. */
export class MediaInputError extends Error {
  override name = 'MediaInputError'
  readonly kind: MediaKind

  constructor(kind: MediaKind, message: string, options?: ErrorOptions) {
    super(message, options)
    this.kind = kind
  }
}
