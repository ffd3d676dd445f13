/**
 * @module
 * `/playground/app.js`: the page's whole script, one ES module assembled from its parts (streaming,
 * media, UI). Plain browser JavaScript with no build step; the parts share the module's top-level scope.
 */
import { CLIENT_MEDIA } from './client-media.ts'
import { CLIENT_STREAM } from './client-stream.ts'
import { CLIENT_UI } from './client-ui.ts'

export const CLIENT_SCRIPT = [CLIENT_STREAM, CLIENT_MEDIA, CLIENT_UI].join('\n')
