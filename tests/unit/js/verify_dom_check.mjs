// Exercises the page wiring of app/static/js/verify-lottery.js with a minimal fake DOM
// (no jsdom needed).  Usage: node verify_dom_check.mjs PATH/TO/verify-lottery.js CASES.json
// CASES.json: list of {"status": HTTP status, "record": ...}; prints one result per case.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

function element(id, attrs = {}) {
  const el = {
    id, attrs, children: [], listeners: {}, disabled: false, _text: '',
    get textContent() { return this._text + this.children.map((c) => c.textContent).join('\n'); },
    set textContent(v) { this._text = String(v); this.children = []; },
    getAttribute(n) { return n in this.attrs ? this.attrs[n] : null; },
    setAttribute(n, v) { this.attrs[n] = String(v); },
    addEventListener(t, f) { this.listeners[t] = f; },
    appendChild(c) { this.children.push(c); return c; },
  };
  return el;
}

const [scriptPath, casesPath] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(casesPath, 'utf8'));
const widget = element('lottery-verify', {
  'data-record-url': '/api/lottery/DD115A001.json',
  'data-msg-ok': 'OK-驗證通過', 'data-msg-fail': 'FAIL-驗證失敗', 'data-msg-pending': 'PENDING-尚未抽籤',
});
const button = element('verify-button');
const box = element('verify-result', { role: 'status', 'aria-live': 'polite' });
const byId = { 'lottery-verify': widget, 'verify-button': button, 'verify-result': box };
globalThis.document = {
  readyState: 'complete',
  getElementById: (id) => byId[id] || null,
  createElement: (tag) => element(tag),
  addEventListener: () => {},
};
let current = null;
const fetched = [];
globalThis.fetch = async (url, options) => {
  fetched.push([url, options.credentials]);
  return { ok: current.status === 200, status: current.status, json: async () => current.record };
};
createRequire(import.meta.url)(resolve(scriptPath));
if (!button.listeners.click) throw new Error('click handler not attached');

const out = [];
for (const c of cases) {
  current = c;
  await button.listeners.click();
  const [p, ul] = box.children;
  out.push({
    state: box.attrs['data-state'], message: p.textContent, disabled: button.disabled,
    items: ul ? ul.children.map((li) => li.textContent) : [],
  });
}
process.stdout.write(JSON.stringify({ fetched, results: out }));
