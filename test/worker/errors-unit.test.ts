/**
 * @module
 * The one translator: every error becomes the four-key OpenAI body with its status and headers, unexpected
 * exceptions become a 500 that shows nothing of their internals, and node error codes map to statuses.
 */
import { describe, expect, it } from 'vitest'
import {
  GatewayError,
  MethodNotAllowedError,
  statusForNodeError,
  toErrorFrame,
  toErrorResponse,
} from '../../worker/errors.ts'
import { NODE_ERROR } from './support/scenarios.ts'

describe('toErrorResponse', () => {
  it('renders a GatewayError with its status, headers and request id', async () => {
    const res = toErrorResponse(new MethodNotAllowedError('PUT', ['GET']), 'req-1')
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('GET')
    expect(res.headers.get('x-request-id')).toBe('req-1')
    expect(res.headers.get('content-type')).toBe('application/json')
    expect(await res.json()).toEqual({
      error: {
        message: 'Method PUT is not allowed here.',
        type: 'invalid_request_error',
        param: null,
        code: 'method_not_allowed',
      },
    })
  })

  it('turns an unexpected exception into a 500 without its internals', async () => {
    const res = toErrorResponse(new TypeError('db password is hunter2'), 'req-2')
    const text = await res.text()
    expect(res.status).toBe(500)
    expect(JSON.parse(text)).toMatchObject({
      error: { type: 'server_error', code: 'internal_error', param: null },
    })
    expect(text).not.toContain('hunter2')
  })
})

describe('toErrorFrame', () => {
  it('writes one data frame with the same body', () => {
    const error = new GatewayError('overloaded', 'Busy.')
    expect(toErrorFrame(error)).toBe(
      'data: {"error":{"message":"Busy.","type":"server_error","param":null,"code":"overloaded"}}\n\n',
    )
  })
})

describe('statusForNodeError', () => {
  it.each([
    ['internal_error', 500],
    ['context_length_exceeded', 400],
    ['overloaded', 503],
    ['something_new', 502],
  ])('maps code %s to %i', (code, status) => {
    expect(statusForNodeError({ error: { ...NODE_ERROR.error, code } })).toBe(status)
  })
})
