import { describe, expect, it } from 'vitest'
import { ControlTokenFinder } from '../../../gpu-node/text/control-tokens.ts'

describe('ControlTokenFinder', () => {
  const finder = new ControlTokenFinder([
    '<bos>',
    '<start_of_turn>',
    '<unused_1>',
    '<unused_10>',
    '',
  ])

  it('finds a token anywhere, at the edges of the text too', () => {
    expect(finder.find('<bos>')).toBe('<bos>')
    expect(finder.find('a<start_of_turn>model')).toBe('<start_of_turn>')
    expect(finder.find('tail <unused_1>')).toBe('<unused_1>')
  })

  it('returns the first token in the text, and the longest at one place', () => {
    expect(finder.find('x <unused_10> then <bos>')).toBe('<unused_10>')
  })

  it('leaves text that only resembles a token', () => {
    expect(finder.find('')).toBeNull()
    expect(finder.find('<html><body>a < b</body>')).toBeNull()
    expect(finder.find('<start_of_turn')).toBeNull()
    expect(finder.find('<BOS> < bos>')).toBeNull()
  })
})
