import { describe, expect, it } from 'vitest'
import { encodeSSEComment, encodeSSEData, SSE_DONE, SSEDecoder } from '../../../shared/sse.ts'

const stream =
  encodeSSEData({ a: 1 }) + encodeSSEComment('ping') + encodeSSEData({ b: 'x\ny' }) + SSE_DONE

describe('SSE codec', () => {
  it('decodes the same events however the bytes are split', () => {
    const whole = new SSEDecoder().push(stream).map((e) => e.data)
    expect(whole).toEqual(['{"a":1}', '{"b":"x\\ny"}', '[DONE]'])
    for (let size = 1; size <= 7; size++) {
      const decoder = new SSEDecoder()
      const data: string[] = []
      for (let i = 0; i < stream.length; i += size) {
        data.push(...decoder.push(stream.slice(i, i + size)).map((e) => e.data))
      }
      expect(data).toEqual(whole)
    }
  })

  it('handles CRLF split between chunks, multi-line data, event and id fields', () => {
    const decoder = new SSEDecoder()
    expect(decoder.push('event: error\r')).toEqual([])
    expect(decoder.push('\ndata: one\r\ndata: two\r\nid: 7\r\n')).toEqual([])
    expect(decoder.push('\r\n')).toEqual([{ event: 'error', data: 'one\ntwo', id: '7' }])
  })

  it('dispatches a final event cut short without a blank line', () => {
    const decoder = new SSEDecoder()
    expect(decoder.push('data: {"partial":true}')).toEqual([])
    expect(decoder.end().map((e) => e.data)).toEqual(['{"partial":true}'])
  })

  it('ignores comments and keeps comment text on one line', () => {
    expect(encodeSSEComment('a\nb')).toBe(': a b\n\n')
    expect(new SSEDecoder().push(': keep-alive\n\n')).toEqual([])
  })
})
