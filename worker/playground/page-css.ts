/**
 * @module
 * The playground's stylesheet: system fonts, a settings column beside the conversation (stacked on narrow
 * screens), light and dark schemes, and a clearly visible keyboard focus ring on every control.
 */
export const PAGE_CSS = `:root {
  color-scheme: light dark;
  --bg: #f7f7f8; --panel: #ffffff; --text: #1b1b1f; --muted: #5b5b66; --border: #c9c9d3;
  --accent: #1a56db; --accent-text: #ffffff; --user: #e8effd; --error-bg: #fdecec; --error: #9b1c1c;
  --focus: #f59e0b;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #131316; --panel: #1d1d22; --text: #ececf1; --muted: #a6a6b3; --border: #3b3b45;
    --accent: #6b9bff; --accent-text: #0b0b0f; --user: #22304d; --error-bg: #3a1717; --error: #ffb4b4;
  }
}
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  background: var(--bg); color: var(--text); }
.top { padding: 1rem 1.5rem 0; }
.top h1 { margin: 0; font-size: 1.4rem; }
.top p { margin: 0.25rem 0 0; color: var(--muted); max-width: 60rem; }
h2 { font-size: 1rem; margin: 0 0 0.5rem; }
.layout { display: grid; grid-template-columns: minmax(14rem, 18rem) 1fr; gap: 1rem; padding: 1rem 1.5rem; }
@media (max-width: 48rem) { .layout { grid-template-columns: 1fr; } }
.settings, .chat { background: var(--panel); border: 1px solid var(--border); border-radius: 8px; padding: 1rem; }
.settings { display: flex; flex-direction: column; gap: 0.25rem; align-self: start; }
.settings label, #composer > label { font-weight: 600; margin-top: 0.5rem; }
.help { margin: 0; color: var(--muted); font-size: 0.85rem; }
input, textarea, button { font: inherit; color: inherit; }
input, textarea { width: 100%; padding: 0.45rem 0.6rem; border: 1px solid var(--border); border-radius: 6px;
  background: var(--bg); }
textarea { resize: vertical; }
button { padding: 0.45rem 0.9rem; border: 1px solid var(--border); border-radius: 6px; background: var(--panel);
  cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-text); font-weight: 600; }
button[aria-pressed="true"] { background: var(--error-bg); border-color: var(--error); color: var(--error); }
button:disabled { opacity: 0.5; cursor: not-allowed; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.chat { display: flex; flex-direction: column; gap: 0.75rem; min-width: 0; }
#transcript { min-height: 16rem; max-height: 60vh; overflow-y: auto; display: flex; flex-direction: column;
  gap: 0.75rem; padding: 0.25rem; }
.empty { color: var(--muted); margin: auto; }
.msg { border-radius: 8px; padding: 0.6rem 0.8rem; max-width: 85%; }
.msg.user { background: var(--user); align-self: flex-end; }
.msg.assistant { border: 1px solid var(--border); align-self: flex-start; }
.msg .role { display: block; font-size: 0.8rem; font-weight: 600; color: var(--muted); }
.msg .text { white-space: pre-wrap; overflow-wrap: anywhere; }
.msg .media { display: block; font-size: 0.85rem; color: var(--muted); }
.msg .media img { display: block; max-width: 12rem; max-height: 8rem; border-radius: 4px; margin-bottom: 0.25rem; }
.msg.stopped .role::after { content: " (stopped)"; font-weight: 400; }
#error { background: var(--error-bg); color: var(--error); border: 1px solid var(--error); border-radius: 6px;
  padding: 0.6rem 0.8rem; white-space: pre-wrap; }
#usage { margin: 0; font-size: 0.9rem; color: var(--muted); font-variant-numeric: tabular-nums; }
#composer { display: flex; flex-direction: column; gap: 0.4rem; }
#attachments { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.5rem; }
#attachments li { display: flex; align-items: center; gap: 0.4rem; border: 1px solid var(--border);
  border-radius: 6px; padding: 0.25rem 0.4rem; font-size: 0.85rem; }
#attachments img { width: 2.5rem; height: 2.5rem; object-fit: cover; border-radius: 4px; }
#attachments button { padding: 0.1rem 0.45rem; }
.actions { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; }
.spacer { flex: 1; }
`
