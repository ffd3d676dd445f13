/**
 * @module
 * The playground page end to end, as a person uses it: the whole stack (GPU node on the contract model,
 * `wrangler dev` with `PLAYGROUND_ENABLED=true`) and Debian's Chromium driven by playwright-core. Typing,
 * keyboard send, the streamed reply and its usage line, an attached image, a microphone recording (a fake
 * device) turned into WAV in the page, and a bad key's 401. Set `PLAYGROUND_SCREENSHOT=<file.png>` to keep
 * a screenshot of the page after the image turn.
 */
import { deflateSync, crc32 } from 'node:zlib'
import type { Browser, Page, Request } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PLAYGROUND_CSP } from '../../worker/playground/playground-app.ts'
import { CHROMIUM_PATH, chromiumAvailable, launchChromium } from '../support/browser.ts'
import { startStack } from '../support/stack.ts'
import type { Stack } from '../support/stack.ts'

const FOUND = chromiumAvailable()
if (!FOUND) {
  console.warn(
    `Skipping the playground browser test: no Chromium at ${CHROMIUM_PATH} ` +
      `(apt-get install chromium; .ci/run installs it, CHROMIUM_PATH points elsewhere).`,
  )
}

const MODEL = 'gemma-3n-e2b-it'
const USAGE_LINE = /^prompt (\d+) · completion (\d+) · total (\d+) tokens · first token \d+ ms/

/** A small RGB PNG (a gradient), written by hand: signature, IHDR, one zlib IDAT, IEND. */
function makePng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const length = Buffer.alloc(4)
    length.writeUInt32BE(data.length)
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(body))
    return Buffer.concat([length, body, crc])
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header.set([8, 2, 0, 0, 0], 8) // 8-bit, truecolour, deflate, no filter method, no interlace
  const rows = Buffer.alloc((width * 3 + 1) * height) // each row: filter byte 0, then RGB
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = y * (width * 3 + 1) + 1 + x * 3
      rows.set([(x * 255) / width, (y * 255) / height, 160], at)
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

interface UserPart {
  type: string
  image_url?: { url: string }
  input_audio?: { data: string; format: string }
}
interface SentBody {
  messages: { role: string; content: string | UserPart[] }[]
  [field: string]: unknown
}

describe.skipIf(!FOUND)('the playground in headless Chromium', () => {
  let stack: Stack
  let browser: Browser
  let page: Page
  let pageErrors: string[]

  beforeAll(async () => {
    stack = await startStack({}, { PLAYGROUND_ENABLED: 'true' })
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await stack?.stop()
  })
  beforeEach(async () => {
    page = await browser.newPage()
    pageErrors = []
    page.on('pageerror', (error) => pageErrors.push(error.message))
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) pageErrors.push(message.text())
    })
    await page.goto(`${stack.workerUrl}/playground`)
  })
  afterEach(async () => {
    await page?.close()
    expect(pageErrors).toEqual([])
  })

  /** Sends the composer's contents with the Enter key; returns the request body the page sent. */
  async function sendWithEnter(): Promise<{ body: SentBody; request: Request }> {
    const requested = page.waitForRequest('**/v1/chat/completions')
    await page.locator('#message').press('Enter')
    const request = await requested
    return { body: request.postDataJSON() as SentBody, request }
  }

  /** Waits for the reply to end (usage line or error), fails with the page's error if there is one. */
  async function usageNumbers(): Promise<{ prompt: number; completion: number; total: number }> {
    const ended = async () =>
      ((await page.locator('#usage').textContent()) ?? '') +
      ((await page.locator('#error').textContent()) ?? '')
    await expect.poll(ended, { timeout: 120_000 }).not.toBe('')
    expect(await page.locator('#error').textContent()).toBe('')
    const match = USAGE_LINE.exec((await page.locator('#usage').textContent()) ?? '')
    expect(match).not.toBeNull()
    return { prompt: Number(match![1]), completion: Number(match![2]), total: Number(match![3]) }
  }

  async function promptTokens(content: string): Promise<number> {
    const response = await fetch(`${stack.workerUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 1 }),
    })
    return ((await response.json()) as { usage: { prompt_tokens: number } }).usage.prompt_tokens
  }

  it('is served with a strict Content-Security-Policy and labelled controls', async () => {
    for (const path of ['/playground', '/playground/app.js', '/playground/app.css']) {
      const response = await fetch(`${stack.workerUrl}${path}`)
      expect(response.status).toBe(200)
      expect(response.headers.get('content-security-policy')).toBe(PLAYGROUND_CSP)
      expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    }
    expect(PLAYGROUND_CSP).not.toContain('unsafe')
    for (const label of ['API key', 'Temperature', 'Max tokens', 'Message']) {
      await expect(page.getByLabel(label, { exact: true }).count()).resolves.toBe(1)
    }
    expect(await page.locator('#transcript').getAttribute('aria-live')).toBe('polite')
  })

  it('streams a reply with usage and latency, sent with the Enter key', async () => {
    const messages = [{ role: 'user', content: 'Name three colours.' }]
    const whole = await fetch(`${stack.workerUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages, max_completion_tokens: 16, temperature: 0 }),
    })
    const expected = (await whole.json()) as {
      choices: { message: { content: string } }[]
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number }
    }

    await page.locator('#api-key').fill(stack.apiKey)
    await page.locator('#temperature').fill('0')
    await page.locator('#max-tokens').fill('16')
    await page.locator('#message').fill('Name three colours.')
    const { body, request } = await sendWithEnter()
    expect(body).toMatchObject({
      model: MODEL,
      messages,
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0,
      max_completion_tokens: 16,
    })
    expect(request.headers().authorization).toBe(`Bearer ${stack.apiKey}`)
    const response = await request.response()
    expect(response?.headers()['content-type']).toBe('text/event-stream')

    expect(await usageNumbers()).toEqual({
      prompt: expected.usage.prompt_tokens,
      completion: expected.usage.completion_tokens,
      total: expected.usage.total_tokens,
    })
    // The SSE reader put the deltas together into exactly the greedy text.
    const reply = page.locator('.msg.assistant .text')
    expect(await reply.textContent()).toBe(expected.choices[0]!.message.content)
    expect(await page.locator('#message').inputValue()).toBe('')
    // The key went nowhere but the API.
    // (A string, evaluated in the page: this file is type-checked without the DOM library.)
    const stored = await page.evaluate(
      '[localStorage.length, sessionStorage.length, document.cookie]',
    )
    expect(stored).toEqual([0, 0, ''])
  })

  it('sends an attached image as a data: URL and answers about it', async () => {
    const png = makePng(48, 32)
    await page.locator('#api-key').fill(stack.apiKey)
    await page.locator('#max-tokens').fill('8')
    await page.locator('#image-input').setInputFiles({
      name: 'gradient.png',
      mimeType: 'image/png',
      buffer: png,
    })
    await expect.poll(() => page.locator('#attachments li').textContent()).toContain('gradient.png')
    await page.locator('#message').fill('What is in this image?')
    const { body } = await sendWithEnter()
    const content = body.messages.at(-1)!.content as UserPart[]
    expect(content[0]).toEqual({ type: 'text', text: 'What is in this image?' })
    expect(content[1]!.image_url!.url).toBe(`data:image/png;base64,${png.toString('base64')}`)

    const usage = await usageNumbers()
    // An image costs the model's soft tokens (256 for Gemma 3n) on top of the text.
    expect(usage.prompt - (await promptTokens('What is in this image?'))).toBeGreaterThanOrEqual(
      256,
    )
    expect(usage.completion).toBeGreaterThan(0)
    await expect(page.locator('#attachments li').count()).resolves.toBe(0)
    await expect(page.locator('.msg.user .media').textContent()).resolves.toContain('gradient.png')
    if (process.env.PLAYGROUND_SCREENSHOT) {
      await page.screenshot({ path: process.env.PLAYGROUND_SCREENSHOT, fullPage: true })
    }
  })

  it('records from the microphone and sends the clip as 16 kHz mono WAV', async () => {
    await page.locator('#api-key').fill(stack.apiKey)
    await page.locator('#max-tokens').fill('4')
    await page.locator('#record').click()
    await expect.poll(() => page.locator('#record').getAttribute('aria-pressed')).toBe('true')
    await page.waitForTimeout(1_000) // a second of the fake device's tone
    await page.locator('#record').click()
    await expect
      .poll(() => page.locator('#attachments li').textContent())
      .toContain('recording.wav')
    await page.locator('#message').fill('What do you hear?')
    const { body } = await sendWithEnter()
    const audio = (body.messages.at(-1)!.content as UserPart[])[1]!.input_audio!
    expect(audio.format).toBe('wav')
    const wav = Buffer.from(audio.data, 'base64')
    expect(wav.toString('latin1', 0, 4)).toBe('RIFF')
    expect(wav.toString('latin1', 8, 12)).toBe('WAVE')
    expect(wav.readUInt16LE(22)).toBe(1) // channels
    expect(wav.readUInt32LE(24)).toBe(16_000) // sample rate
    expect(wav.readUInt16LE(34)).toBe(16) // bits per sample
    expect(wav.readUInt32LE(40)).toBe(wav.length - 44)
    expect(wav.length - 44).toBeGreaterThan(16_000) // more than half a second of samples
    const usage = await usageNumbers()
    expect(usage.prompt).toBeGreaterThan(await promptTokens('What do you hear?'))
  })

  it('uploads a .wav file as input_audio, unchanged', async () => {
    // Half a second of a 440 Hz tone, 16 kHz mono 16-bit, with the same RIFF layout the page writes.
    const samples = Array.from({ length: 8_000 }, (_, i) =>
      Math.sin((2 * Math.PI * 440 * i) / 16_000),
    )
    const wav = Buffer.alloc(44 + samples.length * 2)
    wav.write('RIFF', 0, 'latin1')
    wav.writeUInt32LE(wav.length - 8, 4)
    wav.write('WAVEfmt ', 8, 'latin1')
    wav.writeUInt32LE(16, 16)
    wav.writeUInt16LE(1, 20)
    wav.writeUInt16LE(1, 22)
    wav.writeUInt32LE(16_000, 24)
    wav.writeUInt32LE(32_000, 28)
    wav.writeUInt16LE(2, 32)
    wav.writeUInt16LE(16, 34)
    wav.write('data', 36, 'latin1')
    wav.writeUInt32LE(samples.length * 2, 40)
    samples.forEach((s, i) => wav.writeInt16LE(Math.round(s * 0x3fff), 44 + i * 2))

    await page.locator('#api-key').fill(stack.apiKey)
    await page.locator('#max-tokens').fill('4')
    await page
      .locator('#audio-input')
      .setInputFiles({ name: 'tone.wav', mimeType: 'audio/wav', buffer: wav })
    await expect.poll(() => page.locator('#attachments li').textContent()).toContain('tone.wav')
    await page.locator('#message').fill('What do you hear?')
    const { body } = await sendWithEnter()
    const parts = body.messages.at(-1)!.content as UserPart[]
    expect(parts[1]).toEqual({
      type: 'input_audio',
      input_audio: { data: wav.toString('base64'), format: 'wav' },
    })
    expect((await usageNumbers()).prompt).toBeGreaterThan(await promptTokens('What do you hear?'))
  })

  it("shows a bad key's 401 message and gives the turn back", async () => {
    const refused = await fetch(`${stack.workerUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer gk_not-a-real-key', 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] }),
    })
    expect(refused.status).toBe(401)
    const { error } = (await refused.json()) as { error: { message: string; code: string } }

    await page.locator('#api-key').fill('gk_not-a-real-key')
    await page.locator('#message').fill('Hi')
    await sendWithEnter()
    const alert = page.getByRole('alert')
    await expect
      .poll(() => alert.textContent())
      .toContain(`Error 401 ${error.code}: ${error.message}`)
    expect(await page.locator('#message').inputValue()).toBe('Hi')
    await expect(page.locator('.msg').count()).resolves.toBe(0)
    expect(await page.locator('#usage').textContent()).toBe('')
  })

  it('keeps "New chat" clean of a reply that was still streaming', async () => {
    await page.locator('#api-key').fill(stack.apiKey)
    await page.locator('#max-tokens').fill('2000')
    await page.locator('#message').fill('OLD TOPIC')
    await sendWithEnter()
    await expect.poll(() => page.locator('.msg.assistant .text').textContent()).not.toBe('')
    await page.locator('#clear').click()
    await page.locator('#max-tokens').fill('2')
    await page.locator('#message').fill('fresh start')
    const { body } = await sendWithEnter()
    expect(body.messages).toEqual([{ role: 'user', content: 'fresh start' }])
    await usageNumbers()
  })

  it('resends earlier images only while the request stays within the 8-image limit', async () => {
    await page.locator('#api-key').fill(stack.apiKey)
    await page.locator('#max-tokens').fill('1')
    let last: SentBody | null = null
    for (let turn = 1; turn <= 9; turn++) {
      const name = `turn${turn}.png`
      await page.locator('#image-input').setInputFiles({
        name,
        mimeType: 'image/png',
        buffer: makePng(8 + turn, 8),
      })
      await expect.poll(() => page.locator('#attachments li').textContent()).toContain(name)
      await page.locator('#message').fill(`Picture ${turn}`)
      last = (await sendWithEnter()).body
      await usageNumbers() // each turn answered, the ninth included
    }
    const parts = last!.messages.flatMap((m) => (typeof m.content === 'string' ? [] : m.content))
    expect(parts.filter((p) => p.type === 'image_url')).toHaveLength(8)
    // The oldest image is the one left out, with a note in its place.
    const first = last!.messages[0]!.content as UserPart[]
    expect(first.map((p) => p.type)).toEqual(['text', 'text'])
    expect(first[1]).toEqual({
      type: 'text',
      text: '[an image from earlier in the chat, not sent again]',
    })
  })

  it('opens one microphone for a double click on Record, and closes it', async () => {
    // Every stream the page opens, so the test can see whether any is left live (a string: this file
    // is type-checked without the DOM's types).
    await page.addInitScript(`
      const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices)
      window.openedStreams = []
      navigator.mediaDevices.getUserMedia = async (constraints) => {
        const stream = await open(constraints)
        window.openedStreams.push(stream)
        return stream
      }
    `)
    await page.reload()
    await page.locator('#record').dblclick()
    await expect.poll(() => page.locator('#record').getAttribute('aria-pressed')).toBe('true')
    await page.waitForTimeout(300)
    await page.locator('#record').click()
    await expect.poll(() => page.locator('#attachments li').count()).toBe(1)
    const opened = () => page.evaluate('window.openedStreams.length')
    const live = () =>
      page.evaluate(
        "window.openedStreams.flatMap((s) => s.getTracks()).filter((t) => t.readyState === 'live').length",
      )
    expect(await opened()).toBe(1)
    await expect.poll(live).toBe(0)
  })

  it('gives a failed turn back before the draft typed while it was pending, and names a mid-stream error', async () => {
    let release: () => void = () => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    await page.route('**/v1/chat/completions', async (route) => {
      await held
      const frames = [
        'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"gemma-3n-e2b-it","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}',
        'data: {"error":{"message":"The GPU node stream ended before it was complete.","type":"server_error","param":null,"code":"upstream_error"}}',
        'data: [DONE]',
      ]
      await route.fulfill({
        status: 200,
        headers: { 'content-type': 'text/event-stream' },
        body: frames.join('\n\n') + '\n\n',
      })
    })
    await page.locator('#api-key').fill(stack.apiKey)
    await page.locator('#message').fill('first question')
    await page.locator('#message').press('Enter')
    await page.locator('#message').fill('a follow-up')
    release()
    const alert = page.getByRole('alert')
    await expect.poll(() => alert.textContent()).toContain('Error during the reply upstream_error')
    expect(await page.locator('#message').inputValue()).toBe('first question\n\na follow-up')
  })

  it('refuses an image too large for the API when it is attached, not after the upload', async () => {
    await page.locator('#image-input').setInputFiles({
      name: 'huge.png',
      mimeType: 'image/png',
      buffer: Buffer.alloc(16 * 1024 * 1024),
    })
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('huge.png is 16')
    expect(await page.getByRole('alert').textContent()).toContain('the API takes images up to')
    await expect(page.locator('#attachments li').count()).resolves.toBe(0)
  })
})
