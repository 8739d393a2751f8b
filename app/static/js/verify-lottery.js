/*
 * Browser check of a published lottery record ("sha256-ticket-v1", see specs/lottery.md).
 *
 * Same checks and messages as app/tools/verify_lottery.py, using only Web Crypto
 * (crypto.subtle.digest SHA-256 over UTF-8), so nobody has to trust the server's result.
 * Web Crypto needs a secure context (HTTPS or localhost).
 *
 * Markup (no inline script; the server fills in translated messages):
 *   <div id="lottery-verify" data-record-url="/api/..."
 *        data-msg-ok="..." data-msg-fail="..." data-msg-pending="..."
 *        data-msg-working="..." (optional) data-msg-error="..." (optional)>
 *     <button id="verify-button" type="button">...</button>
 *     <div id="verify-result" role="status" aria-live="polite"></div>
 *   </div>
 * data-msg-pending is shown when the record is not drawn yet (seed still null).
 *
 * The pure core verifyRecord(record) -> Promise<string[]> (empty = verified) is exported as
 * module.exports (CommonJS/node) and as globalThis.LotteryVerify.  Plain ES2017.
 */
(function (root) {
  'use strict';

  var ALGORITHM = 'sha256-ticket-v1';
  var NOT_DRAWN = 'not drawn yet';
  var FIELDS = ['course_code', 'commitment', 'seed', 'beacon', 'seats', 'drawn_at',
    'algorithm', 'entries', 'excluded'];
  var ENTRY_FIELDS = ['entry_no', 'masked_name', 'tier', 'ticket', 'outcome', 'position'];
  var EXCLUDED_FIELDS = ['entry_no', 'masked_name', 'reason'];
  var HEX64 = /^[0-9a-f]{64}$/;
  var ENTRY_NO = /^[\x21-\x7e]+$/;
  var ISO_8601 = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})$/;

  /** Lowercase hex SHA-256 of the UTF-8 bytes of s. */
  async function sha256Hex(s) {
    var digest = await root.crypto.subtle.digest('SHA-256', new TextEncoder().encode(s));
    return Array.prototype.map.call(new Uint8Array(digest), function (b) {
      return (b < 16 ? '0' : '') + b.toString(16);
    }).join('');
  }

  function show(v) { return JSON.stringify(v); }
  function isObject(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
  function isInt(v) { return typeof v === 'number' && Number.isInteger(v); }
  function isEntryNo(v) { return typeof v === 'string' && ENTRY_NO.test(v); }
  function has(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }

  /** Problems found in a drawn record (empty array = verified). */
  async function verifyRecord(record) {
    if (!isObject(record)) return ['record is not a JSON object'];
    if (has(record, 'seed') && record.seed === null) return [NOT_DRAWN];
    var problems = FIELDS.filter(function (f) { return !has(record, f); })
      .map(function (f) { return 'missing field ' + f; });
    if (problems.length) return problems;

    if (record.algorithm !== ALGORITHM) {
      problems.push('algorithm must be ' + show(ALGORITHM) + ', got ' + show(record.algorithm));
    }
    var seed = record.seed, seats = record.seats, entries = record.entries;
    var excluded = record.excluded;
    if (typeof record.course_code !== 'string' || !record.course_code) {
      problems.push('course_code must be a non-empty string');
    }
    if (typeof record.commitment !== 'string' || !HEX64.test(record.commitment)) {
      problems.push('commitment must be 64 lowercase hex characters');
    }
    if (typeof seed !== 'string' || !HEX64.test(seed)) {
      problems.push('seed must be 64 lowercase hex characters');
    } else {
      var seedHash = await sha256Hex(seed);
      if (seedHash !== record.commitment) {
        problems.push('seed does not match commitment: sha256_hex(seed) = ' + seedHash);
      }
    }
    if (typeof record.beacon !== 'string') problems.push('beacon must be a string');
    if (!isInt(seats) || seats < 0) problems.push('seats must be a non-negative integer');
    if (typeof record.drawn_at !== 'string' || !ISO_8601.test(record.drawn_at)) {
      problems.push('drawn_at must be an ISO 8601 date-time with a time zone');
    }
    if (!Array.isArray(entries)) problems.push('entries must be a list');
    if (!Array.isArray(excluded)) problems.push('excluded must be a list');
    if (problems.length) return problems;

    // Structure of every entry and exclusion.
    var drawnNos = new Set();
    entries.forEach(function (e, i) {
      var where = 'entries[' + i + ']';
      if (!isObject(e)) { problems.push(where + ' is not an object'); return; }
      var missing = ENTRY_FIELDS.filter(function (f) { return !has(e, f); });
      if (missing.length) { problems.push(where + ' is missing ' + missing.join(', ')); return; }
      if (!isEntryNo(e.entry_no)) {
        problems.push(where + ': entry_no must be non-empty visible ASCII');
      } else if (drawnNos.has(e.entry_no)) {
        problems.push('entry_no ' + show(e.entry_no) + ' appears more than once');
      } else {
        drawnNos.add(e.entry_no);
      }
      if (typeof e.masked_name !== 'string') problems.push(where + ': masked_name must be a string');
      if (!isInt(e.tier)) problems.push(where + ': tier must be an integer');
    });
    var excludedNos = new Set();
    excluded.forEach(function (x, i) {
      var where = 'excluded[' + i + ']';
      if (!isObject(x)) { problems.push(where + ' is not an object'); return; }
      var missing = EXCLUDED_FIELDS.filter(function (f) { return !has(x, f); });
      if (missing.length) { problems.push(where + ' is missing ' + missing.join(', ')); return; }
      if (!isEntryNo(x.entry_no)) {
        problems.push(where + ': entry_no must be non-empty visible ASCII');
      } else if (excludedNos.has(x.entry_no)) {
        problems.push('excluded entry_no ' + show(x.entry_no) + ' appears more than once');
      } else {
        excludedNos.add(x.entry_no);
        if (drawnNos.has(x.entry_no)) {
          problems.push('entry_no ' + show(x.entry_no) + ' is both drawn and excluded');
        }
      }
      if (typeof x.masked_name !== 'string') problems.push(where + ': masked_name must be a string');
      if (typeof x.reason !== 'string' || !x.reason.trim()) {
        problems.push(where + ': reason must be a non-empty string');
      }
    });
    if (problems.length) return problems;

    // Tickets, order, outcomes and positions.
    var key = await sha256Hex(seed + ':' + record.beacon + ':' + record.course_code);
    var tickets = new Map();
    for (var j = 0; j < entries.length; j++) {
      var e = entries[j];
      tickets.set(e.entry_no, await sha256Hex(key + ':' + e.entry_no));
      if (e.ticket !== tickets.get(e.entry_no)) {
        problems.push('entry ' + show(e.entry_no) + ': ticket does not recompute');
      }
    }
    var order = entries.slice().sort(function (a, b) {
      if (a.tier !== b.tier) return a.tier < b.tier ? -1 : 1;
      var ta = tickets.get(a.entry_no), tb = tickets.get(b.entry_no);
      return ta < tb ? -1 : (ta > tb ? 1 : 0);
    });
    order.forEach(function (e, i) {
      var outcome = i < seats ? 'admitted' : 'waitlisted';
      var position = i < seats ? null : i - seats + 1;
      if (e.outcome !== outcome) {
        problems.push('entry ' + show(e.entry_no) + ': outcome should be ' + show(outcome) +
          ', published ' + show(e.outcome));
      }
      if (e.position !== position) {
        problems.push('entry ' + show(e.entry_no) + ': position should be ' + show(position) +
          ', published ' + show(e.position));
      }
    });
    var admitted = entries.filter(function (e) { return e.outcome === 'admitted'; }).length;
    var expected = Math.min(seats, entries.length);
    if (admitted !== expected) {
      problems.push(admitted + ' entries published as admitted, expected ' + expected);
    }
    return problems;
  }

  var api = { verifyRecord: verifyRecord, sha256Hex: sha256Hex, NOT_DRAWN: NOT_DRAWN };
  root.LotteryVerify = api;
  if (typeof module === 'object' && module && module.exports) module.exports = api;

  // ---- Page wiring (browser only) ----
  var MAX_SHOWN = 50;  // a single tampered seat can shift hundreds of positions

  function setResult(box, state, message, problems) {
    box.textContent = '';
    box.setAttribute('data-state', state);
    var p = document.createElement('p');
    p.textContent = message;
    box.appendChild(p);
    if (problems && problems.length) {
      var ul = document.createElement('ul');
      var shown = problems.length > MAX_SHOWN ? problems.slice(0, MAX_SHOWN) : problems;
      if (shown !== problems) shown = shown.concat(['… (+' + (problems.length - MAX_SHOWN) + ')']);
      shown.forEach(function (text) {
        var li = document.createElement('li');
        li.textContent = text;
        ul.appendChild(li);
      });
      box.appendChild(ul);
    }
  }

  function attach() {
    var widget = document.getElementById('lottery-verify');
    if (!widget) return;
    var button = document.getElementById('verify-button');
    var box = document.getElementById('verify-result');
    if (!button || !box) return;
    var msg = function (name, fallback) { return widget.getAttribute('data-msg-' + name) || fallback; };
    button.addEventListener('click', async function () {
      button.disabled = true;
      setResult(box, 'working', msg('working', '…'));
      try {
        if (!root.crypto || !root.crypto.subtle) throw new Error('Web Crypto unavailable (HTTPS needed)');
        var response = await fetch(widget.getAttribute('data-record-url'), {
          credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' }
        });
        if (!response.ok) throw new Error('HTTP ' + response.status);
        var problems = await verifyRecord(await response.json());
        if (!problems.length) setResult(box, 'ok', msg('ok', 'verified'));
        else if (problems.length === 1 && problems[0] === NOT_DRAWN) setResult(box, 'pending', msg('pending', NOT_DRAWN));
        else setResult(box, 'fail', msg('fail', 'NOT VERIFIED'), problems);
      } catch (err) {
        setResult(box, 'error', msg('error', msg('fail', 'NOT VERIFIED')), [String(err && err.message || err)]);
      } finally {
        button.disabled = false;
      }
    });
  }

  if (typeof document !== 'undefined') {
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', attach);
    else attach();
  }
})(typeof globalThis !== 'undefined' ? globalThis : (typeof self !== 'undefined' ? self : this));
