/**
 * @module
 * Browser-side code (part of `/playground/app.js`): the page's state and DOM wiring. The API key is read
 * from its input at send time and lives nowhere else (no storage, no cookies). Text goes into the DOM
 * only as text nodes, never as HTML, since model output and file names are untrusted. While a reply
 * streams the log is `aria-busy`, so screen readers announce the finished reply rather than every token.
 */
export const CLIENT_UI = String.raw`
const $ = (id) => document.getElementById(id)
const state = { history: [], attachments: [], controller: null, recorder: null }

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

function requestBody(userContent) {
  const messages = []
  const system = $('system').value.trim()
  if (system) messages.push({ role: 'system', content: system })
  messages.push(...state.history, { role: 'user', content: userContent })
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
  if (!text.trim() && state.attachments.length === 0) return
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
    state.history.push({ role: 'user', content }, { role: 'assistant', content: output.data })
    $('usage').textContent = describeResult(result)
  } catch (error) {
    if (error.name === 'AbortError') {
      reply.node.classList.add('stopped')
      state.history.push({ role: 'user', content }, { role: 'assistant', content: output.data })
    } else {
      // Give the turn back so it can be sent again (after fixing the key, say).
      user.node.remove()
      reply.node.remove()
      $('message').value = text
      state.attachments = attachments
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
    return
  }
  try {
    state.recorder = await startRecording(() => toggleRecording())
    button.setAttribute('aria-pressed', 'true')
    button.textContent = 'Stop recording'
    $('status').textContent = 'Recording… (at most 30 s)'
  } catch (error) {
    showError('Cannot record: ' + error.message)
  }
}

function clearChat() {
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
