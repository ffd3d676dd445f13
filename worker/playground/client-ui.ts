/**
 * @module
 * Browser-side code (part of `/playground/app.js`): the page's state and DOM wiring. The API key is read
 * from its input at send time and lives nowhere else (no storage, no cookies). Text goes into the DOM
 * only as text nodes, never as HTML, since model output and file names are untrusted. While a reply
 * streams the log is `aria-busy`, so screen readers announce the finished reply rather than every token.
 * Earlier turns' images and clips are resent only while the request stays within the API's media limits.
 */
import { MEDIA_LIMITS } from '../media/media-limits.ts'

export const CLIENT_UI = String.raw`
const $ = (id) => document.getElementById(id)
// chat: counts "New chat"s, so a reply that ends after one cannot write into the new chat's history.
// recording: a recording is being started or running (the microphone opens asynchronously).
const state = { history: [], attachments: [], controller: null, recorder: null, recording: false, chat: 0 }
// The API's per-request media limits: earlier turns' media are resent only while they fit.
const MAX_IMAGES = ${MEDIA_LIMITS.maxImagesPerRequest}
const MAX_CLIPS = ${MEDIA_LIMITS.maxClipsPerRequest}
const MAX_MEDIA_CHARS = 12 * 1024 * 1024 // base64 characters of media per request, under the body cap

function element(tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

function showError(message) {
  $('error').textContent = message
  $('error').hidden = message === ''
}

function setBusy(busy) {
  $('send').disabled = busy
  $('stop').disabled = !busy
  $('transcript').setAttribute('aria-busy', String(busy))
}

function addMessage(role, text, attachments) {
  const empty = $('transcript').querySelector('.empty')
  if (empty) empty.remove()
  const node = element('div', 'msg ' + role)
  node.append(element('span', 'role', role === 'user' ? 'You' : 'Gemma'))
  for (const item of attachments || []) {
    const line = element('span', 'media', item.kind + ': ' + item.label)
    if (item.preview) {
      const img = element('img')
      img.src = item.preview
      img.alt = 'Attached image ' + item.label
      line.prepend(img)
    }
    node.append(line)
  }
  const body = element('div', 'text', text)
  node.append(body)
  $('transcript').append(node)
  $('transcript').scrollTop = $('transcript').scrollHeight
  return { node, body }
}

function renderAttachments() {
  const list = $('attachments')
  list.replaceChildren()
  state.attachments.forEach((item, index) => {
    const entry = element('li')
    if (item.preview) {
      const img = element('img')
      img.src = item.preview
      img.alt = ''
      entry.append(img)
    }
    entry.append(element('span', '', item.kind + ': ' + item.label))
    const remove = element('button', '', '×')
    remove.type = 'button'
    remove.setAttribute('aria-label', 'Remove ' + item.label)
    remove.addEventListener('click', () => {
      state.attachments.splice(index, 1)
      renderAttachments()
      $('message').focus()
    })
    entry.append(remove)
    list.append(entry)
  })
}

function numberField(id) {
  const raw = $(id).value.trim()
  return raw === '' ? undefined : Number(raw)
}

/** The size of a media part as sent (its data URL or base64 audio). */
function mediaChars(part) {
  return part.type === 'image_url' ? part.image_url.url.length : part.input_audio.data.length
}

/**
 * The earlier turns as sent beside the new one: their images and clips, newest first, are kept while the
 * request stays within the API's limits, and the rest become a note in their place, so a long chat with
 * pictures keeps working instead of failing on its ninth image. The new turn's own media always go as
 * they are (if they alone are too many, the API says so).
 */
function historyWithinMediaLimits(history, userContent) {
  const left = { image_url: MAX_IMAGES, input_audio: MAX_CLIPS, chars: MAX_MEDIA_CHARS }
  const isMedia = (part) => part.type === 'image_url' || part.type === 'input_audio'
  for (const part of typeof userContent === 'string' ? [] : userContent.filter(isMedia)) {
    left[part.type] -= 1
    left.chars -= mediaChars(part)
  }
  const fit = (part) => {
    if (!isMedia(part)) return part
    const size = mediaChars(part)
    if (left[part.type] > 0 && left.chars >= size) {
      left[part.type] -= 1
      left.chars -= size
      return part
    }
    const what = part.type === 'image_url' ? 'an image' : 'an audio clip'
    return { type: 'text', text: '[' + what + ' from earlier in the chat, not sent again]' }
  }
  const kept = []
  for (let i = history.length - 1; i >= 0; i--) {
    const message = history[i]
    if (typeof message.content === 'string') kept.unshift(message)
    else kept.unshift({ ...message, content: [...message.content].reverse().map(fit).reverse() })
  }
  return kept
}

function requestBody(userContent) {
  const messages = []
  const system = $('system').value.trim()
  if (system) messages.push({ role: 'system', content: system })
  messages.push(...historyWithinMediaLimits(state.history, userContent), {
    role: 'user',
    content: userContent,
  })
  return {
    model: $('model').value.trim(),
    messages,
    temperature: numberField('temperature'),
    max_completion_tokens: numberField('max-tokens'),
  }
}

async function send() {
  const apiKey = $('api-key').value.trim()
  const text = $('message').value
  if (!apiKey) {
    showError('Enter an API key first.')
    $('api-key').focus()
    return
  }
  // A recording still running belongs to this message: stop it and attach it first.
  if (state.recorder) await toggleRecording()
  if (!text.trim() && state.attachments.length === 0) return
  const chat = state.chat
  const attachments = state.attachments
  const content = attachments.length
    ? [...(text.trim() ? [{ type: 'text', text }] : []), ...attachments.map((a) => a.part)]
    : text
  showError('')
  $('usage').textContent = ''
  const user = addMessage('user', text, attachments)
  $('message').value = ''
  state.attachments = []
  renderAttachments()
  const reply = addMessage('assistant', '')
  const output = document.createTextNode('')
  reply.body.append(output)
  state.controller = new AbortController()
  setBusy(true)
  try {
    const result = await streamChat({
      apiKey,
      body: requestBody(content),
      signal: state.controller.signal,
      onText: (delta) => output.appendData(delta),
    })
    if (chat !== state.chat) return // "New chat" while it streamed: this turn is not part of it
    state.history.push({ role: 'user', content }, { role: 'assistant', content: output.data })
    $('usage').textContent = describeResult(result)
  } catch (error) {
    if (chat !== state.chat) return
    if (error.name === 'AbortError') {
      reply.node.classList.add('stopped')
      state.history.push({ role: 'user', content }, { role: 'assistant', content: output.data })
    } else {
      // Give the turn back so it can be sent again (after fixing the key, say), before anything the
      // user has typed or attached while it was pending, which stays.
      user.node.remove()
      reply.node.remove()
      const draft = $('message').value
      $('message').value = draft.trim() ? text + '\n\n' + draft : text
      state.attachments = [...attachments, ...state.attachments]
      renderAttachments()
      showError(describeError(error))
    }
  } finally {
    state.controller = null
    setBusy(false)
    $('message').focus()
  }
}

async function attach(file, make) {
  if (!file) return
  try {
    state.attachments.push(await make(file))
    renderAttachments()
    showError('')
  } catch (error) {
    showError(error.message)
  }
}

async function toggleRecording() {
  const button = $('record')
  if (state.recorder) {
    const recorder = state.recorder
    state.recorder = null
    button.setAttribute('aria-pressed', 'false')
    button.textContent = 'Record audio'
    $('status').textContent = 'Converting the recording…'
    await attach(recorder, (r) => r.stop())
    $('status').textContent = ''
    state.recording = false
    return
  }
  // A second click while the microphone is still opening would start a second recording, whose
  // microphone nothing would ever stop.
  if (state.recording) return
  state.recording = true
  try {
    const recorder = await startRecording(() => state.recorder === recorder && toggleRecording())
    state.recorder = recorder
    button.setAttribute('aria-pressed', 'true')
    button.textContent = 'Stop recording'
    $('status').textContent = 'Recording… (at most 30 s)'
  } catch (error) {
    state.recording = false
    showError('Cannot record: ' + error.message)
  }
}

function clearChat() {
  state.chat += 1
  if (state.controller) state.controller.abort()
  state.history = []
  $('transcript').replaceChildren(element('p', 'empty', 'New chat. Type a message and press Enter.'))
  $('usage').textContent = ''
  showError('')
  $('message').focus()
}

$('composer').addEventListener('submit', (event) => {
  event.preventDefault()
  if (!state.controller) send()
})
$('message').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault()
    $('composer').requestSubmit()
  }
})
$('stop').addEventListener('click', () => state.controller && state.controller.abort())
$('clear').addEventListener('click', clearChat)
$('attach-image').addEventListener('click', () => $('image-input').click())
$('attach-audio').addEventListener('click', () => $('audio-input').click())
$('image-input').addEventListener('change', async (event) => {
  await attach(event.target.files[0], imageAttachment)
  event.target.value = ''
})
$('audio-input').addEventListener('change', async (event) => {
  await attach(event.target.files[0], audioFileAttachment)
  event.target.value = ''
})
$('record').addEventListener('click', toggleRecording)
if (!window.MediaRecorder || !navigator.mediaDevices) $('record').disabled = true
`
