import { describe, expect, it } from 'vitest'
import { StopMatcher } from '../../../gpu-node/text/stop-matcher.ts'

/** Pushes every chunk; returns what was emitted (with the final flush unless stopped) and the stop flag. */
function run(stops: string[], chunks: string[]) {
  const matcher = new StopMatcher(stops)
  let text = ''
  for (const chunk of chunks) {
    const { emit, stopped } = matcher.push(chunk)
    text += emit
    if (stopped) return { text, stopped, matcher }
  }
  return { text: text + matcher.flush(), stopped: false, matcher }
}

describe('StopMatcher', () => {
  it('stops inside one chunk and leaves the stop text out', () => {
    expect(run(['END'], ['Hello END world'])).toMatchObject({ text: 'Hello ', stopped: true })
  })

  it('matches a stop string split across chunks, holding back the possible start', () => {
    const matcher = new StopMatcher(['END'])
    expect(matcher.push('Hello E')).toEqual({ emit: 'Hello ', stopped: false })
    expect(matcher.push('N')).toEqual({ emit: '', stopped: false })
    expect(matcher.push('D and more')).toEqual({ emit: '', stopped: true })
    expect(matcher.stopped).toBe(true)
    expect(matcher.push('later')).toEqual({ emit: '', stopped: true })
    expect(matcher.flush()).toBe('')
  })

  it('matches a stop string one character at a time', () => {
    const chunks = [...'abc<|eot|>def']
    expect(run(['<|eot|>'], chunks)).toMatchObject({ text: 'abc', stopped: true })
  })

  it('stops at the earliest of several stop strings', () => {
    expect(run(['world', 'lo w'], ['Hel', 'lo wor', 'ld'])).toMatchObject({
      text: 'Hel',
      stopped: true,
    })
    expect(run(['User:', '\n\n'], ['a\nb', '\n\nUser:'])).toMatchObject({
      text: 'a\nb',
      stopped: true,
    })
  })

  it('releases near-misses as soon as they stop matching', () => {
    const matcher = new StopMatcher(['STOP'])
    expect(matcher.push('ST')).toEqual({ emit: '', stopped: false })
    expect(matcher.push('OR')).toEqual({ emit: 'STOR', stopped: false })
    expect(matcher.push('SSTO')).toEqual({ emit: 'S', stopped: false })
    expect(matcher.push('P!')).toEqual({ emit: '', stopped: true })
  })

  it('holds the longest partial match among overlapping stops', () => {
    const matcher = new StopMatcher(['abcd', 'cx'])
    expect(matcher.push('zabc')).toEqual({ emit: 'z', stopped: false })
    expect(matcher.push('x')).toEqual({ emit: 'ab', stopped: true })
  })

  it('flushes held text at the end when no stop completed', () => {
    expect(run(['END'], ['the E', 'N'])).toEqual(
      expect.objectContaining({ text: 'the EN', stopped: false }),
    )
  })

  it('passes everything through without stops, ignoring empty strings', () => {
    const matcher = new StopMatcher(['', ''])
    expect(matcher.push('any text')).toEqual({ emit: 'any text', stopped: false })
    expect(matcher.flush()).toBe('')
  })

  it('handles stop strings with multibyte characters', () => {
    expect(run(['😀!'], ['ok 😀', '😀', '!'])).toMatchObject({ text: 'ok 😀', stopped: true })
  })
})
