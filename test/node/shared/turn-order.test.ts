import { describe, expect, it } from 'vitest'
import { modelSpeaksFirst } from '../../../shared/turn-order.ts'

const roles = (...list: string[]) => list.map((role) => ({ role }))

describe('modelSpeaksFirst', () => {
  it('finds an assistant message before the first user message, after the system ones', () => {
    expect(modelSpeaksFirst(roles('system', 'assistant', 'user'))).toBe(1)
    expect(modelSpeaksFirst(roles('assistant'))).toBe(0)
    expect(modelSpeaksFirst(roles('user', 'assistant'))).toBe(-1)
    expect(modelSpeaksFirst(roles('system', 'system'))).toBe(-1)
    expect(modelSpeaksFirst([])).toBe(-1)
  })
})
