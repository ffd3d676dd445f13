/**
 * @module
 * The playground's markup. No inline script or style (the CSP forbids both): behaviour comes from
 * `/playground/app.js` (client-script.ts), looks from `/playground/app.css` (page-css.ts). Every control
 * has a visible label; the transcript is an ARIA live log, errors an alert.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="referrer" content="no-referrer" />
    <title>gemma-edge playground</title>
    <!-- No icon: without this line the browser asks for /favicon.ico, a 404 in every console. -->
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="/playground/app.css" />
    <script type="module" src="/playground/app.js"></script>
  </head>
  <body>
    <header class="top">
      <h1>gemma-edge playground</h1>
      <p>Chat with Gemma 3n E2B through this API. Your key stays in this page's memory: it is sent
        only to this server, and gone when you close or reload the page.</p>
    </header>
    <main class="layout">
      <section class="settings" aria-labelledby="settings-title">
        <h2 id="settings-title">Settings</h2>
        <label for="api-key">API key</label>
        <input id="api-key" type="password" autocomplete="off" spellcheck="false"
          aria-describedby="api-key-help" placeholder="gk_…" />
        <p id="api-key-help" class="help">Sent as <code>Authorization: Bearer</code>, never stored.</p>
        <label for="model">Model</label>
        <input id="model" type="text" value="gemma-3n-e2b-it" spellcheck="false" />
        <label for="temperature">Temperature</label>
        <input id="temperature" type="number" min="0" max="2" step="0.1" value="0.7"
          aria-describedby="temperature-help" />
        <p id="temperature-help" class="help">0 is greedy (always the likeliest token).</p>
        <label for="max-tokens">Max tokens</label>
        <input id="max-tokens" type="number" min="1" max="32768" step="1" value="256"
          aria-describedby="max-tokens-help" />
        <p id="max-tokens-help" class="help">Empty: as many as the 32K context leaves.</p>
        <label for="system">System prompt (optional)</label>
        <textarea id="system" rows="3"></textarea>
        <button type="button" id="clear">New chat</button>
      </section>
      <section class="chat" aria-labelledby="chat-title">
        <h2 id="chat-title">Conversation</h2>
        <div id="transcript" role="log" aria-live="polite" aria-label="Conversation" tabindex="0">
          <p class="empty">Enter your API key, type a message and press Enter.</p>
        </div>
        <div id="error" role="alert" hidden></div>
        <p id="usage" aria-live="polite" aria-label="Usage and latency of the last reply"></p>
        <form id="composer">
          <label for="message">Message</label>
          <textarea id="message" rows="3" aria-describedby="message-help"></textarea>
          <p id="message-help" class="help">Enter sends, Shift+Enter starts a new line.</p>
          <ul id="attachments" aria-label="Attachments"></ul>
          <input id="image-input" type="file" accept="image/png,image/jpeg,image/webp,image/gif"
            aria-label="Image file" hidden />
          <input id="audio-input" type="file" accept=".wav,.mp3,audio/wav,audio/x-wav,audio/mpeg"
            aria-label="Audio file (.wav or .mp3)" hidden />
          <div class="actions">
            <button type="button" id="attach-image">Attach image</button>
            <button type="button" id="attach-audio">Upload audio</button>
            <button type="button" id="record" aria-pressed="false">Record audio</button>
            <span class="spacer"></span>
            <button type="button" id="stop" disabled>Stop</button>
            <button type="submit" id="send" class="primary">Send</button>
          </div>
          <p id="status" class="help" aria-live="polite"></p>
        </form>
      </section>
    </main>
  </body>
</html>
`
