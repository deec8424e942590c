// The partner's desk in the browser (docs/desk.md). The page works without this script (a form
// the server answers); with it: scans are answered in place, the camera reads QR codes (jsQR,
// served by this service), and when the network is gone the token is verified here with
// WebCrypto against the JWK Set and the signed revocation list that the service worker
// (/desk/sw.js) keeps. The offline checks are those of the server's verifier (signing/):
// strict base64url, ES256 only, known kid of the right use, low-s, exactly our claims, issuer,
// validity window with leeway, and a revocation list whose signature is checked before use.
'use strict';
(() => {
  const config = document.getElementById('desk-config');
  const form = document.getElementById('scan-form');
  if (!config || !form) return;
  const cfg = config.dataset;
  const issuer = cfg.issuer;
  const leeway = Number(cfg.leeway) || 0;
  const maxAgeMs = (Number(cfg.maxAge) || 86400) * 1000;
  const field = document.getElementById('token');
  const csrf = form.elements.csrf.value;
  const $ = (id) => document.getElementById(id);
  const desk = { timings: [], knowledge: null };
  window.lkDesk = desk;  // read by the browser test (tests/browser/desk_page.mjs)

  // --- Strict decoding, as signing/jws.cc -------------------------------------------------
  const N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551n;
  const HALF_N = N >> 1n;
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  function b64urlEncode(bytes) {
    let out = '';
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
      if (i + 1 < bytes.length) out += B64[(n >> 6) & 63];
      if (i + 2 < bytes.length) out += B64[n & 63];
    }
    return out;
  }
  // Bytes of a base64url segment, or a refusal word.
  function b64urlDecode(seg) {
    if (seg.endsWith('=')) return 'non_canonical_encoding';
    if (!/^[A-Za-z0-9_-]*$/.test(seg)) return 'bad_base64';
    if (seg.length % 4 === 1) return 'non_canonical_encoding';
    const out = new Uint8Array(Math.floor(seg.length * 3 / 4));
    let bits = 0, value = 0, o = 0;
    for (const ch of seg) {
      value = (value << 6) | B64.indexOf(ch);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[o++] = (value >> bits) & 255;
      }
    }
    if ((value & ((1 << bits) - 1)) !== 0) return 'non_canonical_encoding';  // set padding bits
    return out;
  }
  function splitCompact(jws) {
    const parts = jws.split('.');
    if (parts.length !== 3 || parts.some((p) => p.length === 0)) return 'malformed';
    const out = [];
    for (const p of parts) {
      const d = b64urlDecode(p);
      if (typeof d === 'string') return d;
      out.push(d);
    }
    return out;
  }
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const ascii = new TextEncoder();
  // A JSON object as the server's ParseObject reads it: duplicate names refused at any depth;
  // numbers written with a fraction or exponent come back as {float: n}, so that "is an
  // integer" means what nlohmann's is_number_integer means. null when it is not one.
  function parseObject(bytes) {
    let text;
    try { text = utf8.decode(bytes); } catch { return null; }
    let i = 0;
    const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
    function value() {
      ws();
      const c = text[i];
      if (c === '{') {
        i++;
        const obj = Object.create(null);
        ws();
        if (text[i] === '}') { i++; return obj; }
        for (;;) {
          ws();
          if (text[i] !== '"') throw 0;
          const k = string();
          if (k in obj) throw 0;
          ws();
          if (text[i++] !== ':') throw 0;
          obj[k] = value();
          ws();
          if (text[i] === ',') { i++; continue; }
          if (text[i] === '}') { i++; return obj; }
          throw 0;
        }
      }
      if (c === '[') {
        i++;
        const arr = [];
        ws();
        if (text[i] === ']') { i++; return arr; }
        for (;;) {
          arr.push(value());
          ws();
          if (text[i] === ',') { i++; continue; }
          if (text[i] === ']') { i++; return arr; }
          throw 0;
        }
      }
      if (c === '"') return string();
      for (const [lit, v] of [['true', true], ['false', false], ['null', null]])
        if (text.startsWith(lit, i)) { i += lit.length; return v; }
      const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 40));
      if (!m) throw 0;
      i += m[0].length;
      return m[2] || m[3] ? { float: Number(m[0]) } : Number(m[0]);
    }
    function string() {
      const m = /^"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/.exec(text.slice(i));
      if (!m) throw 0;
      i += m[0].length;
      return JSON.parse(m[0]);
    }
    try {
      const v = value();
      ws();
      if (i !== text.length || v === null || typeof v !== 'object' || Array.isArray(v)) return null;
      return v;
    } catch { return null; }
  }
  const isInt = (v) => typeof v === 'number' && Number.isSafeInteger(v);
  const validSerial = (s) => typeof s === 'string' && /^[A-Za-z0-9_-]{1,40}$/.test(s);
  const names = (o) => Object.keys(o);

  // r||s, low-s, then WebCrypto. Returns null or a refusal word.
  async function checkEs256(key, signingInput, sig) {
    if (sig.length !== 64) return 'bad_signature';
    const hex = (b) => BigInt('0x' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(''));
    const r = hex(sig.subarray(0, 32)), s = hex(sig.subarray(32));
    if (r === 0n || s === 0n || r >= N || s > HALF_N) return 'non_canonical_signature';
    const ok = await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, sig, ascii.encode(signingInput));
    return ok ? null : 'bad_signature';
  }

  // --- The JWK Set, as signing::KeySet::FromJwks --------------------------------------------
  async function readJwks(text) {
    let doc;
    try { doc = JSON.parse(text); } catch { throw new Error('not a JWK Set'); }
    if (!doc || typeof doc !== 'object' || !Array.isArray(doc.keys)) throw new Error('not a JWK Set');
    const keys = new Map();
    for (const k of doc.keys) {
      if (!k || typeof k !== 'object' || k.kty !== 'EC' || k.crv !== 'P-256') throw new Error('not an EC P-256 key');
      if ('alg' in k && k.alg !== 'ES256') throw new Error('alg is not ES256');
      if ('d' in k) throw new Error('a private key');
      let use = 'token';
      if ('use' in k && k.use === 'lk-revocations') use = 'revocations';
      else if ('use' in k && k.use !== 'sig') throw new Error('unknown use');
      const x = typeof k.x === 'string' ? b64urlDecode(k.x) : 'bad', y = typeof k.y === 'string' ? b64urlDecode(k.y) : 'bad';
      if (typeof x === 'string' || typeof y === 'string' || x.length !== 32 || y.length !== 32) throw new Error('bad x, y');
      const canonical = `{"crv":"P-256","kty":"EC","x":"${b64urlEncode(x)}","y":"${b64urlEncode(y)}"}`;
      const thumb = b64urlEncode(new Uint8Array(await crypto.subtle.digest('SHA-256', ascii.encode(canonical))));
      if (k.kid !== thumb.slice(0, 6)) throw new Error('kid is not the thumbprint');
      if (keys.has(k.kid)) throw new Error('duplicate kid');
      const key = await crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: k.x, y: k.y, ext: true },
        { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
      keys.set(k.kid, { use, key });
    }
    return keys;
  }

  // --- The revocation list, as signing::RevocationVerifier ----------------------------------
  async function readRevocations(jws, keys, nowSec, held) {
    const parts = splitCompact(jws);
    if (typeof parts === 'string') return { refused: parts };
    const header = parseObject(parts[0]);
    if (!header) return { refused: 'bad_json' };
    if (header.alg !== 'ES256') return { refused: 'unsupported_algorithm' };
    if (names(header).some((n) => !['alg', 'kid', 'typ'].includes(n))) return { refused: 'wrong_kind' };
    if (header.typ !== 'lk-revocations+jwt') return { refused: 'wrong_kind' };
    if (typeof header.kid !== 'string') return { refused: 'missing_kid' };
    const k = keys.get(header.kid);
    if (!k || k.use !== 'revocations') return { refused: 'unknown_kid' };
    const bad = await checkEs256(k.key, jws.slice(0, jws.lastIndexOf('.')), parts[2]);
    if (bad) return { refused: bad };
    const p = parseObject(parts[1]);
    if (!p) return { refused: 'bad_json' };
    const members = ['iss', 'typ', 'iat', 'exp', 'seq', 'years', 'revoked'];
    if (names(p).some((n) => !members.includes(n))) return { refused: 'wrong_kind' };
    if ('typ' in p && p.typ !== 'revocations') return { refused: 'wrong_kind' };
    if (members.some((m) => !(m in p))) return { refused: 'missing_claim' };
    if (typeof p.iss !== 'string' || !isInt(p.iat) || !isInt(p.exp) || p.iat < 0 || p.exp <= p.iat ||
        !isInt(p.seq) || p.seq < 0 || !Array.isArray(p.years) || p.years.length === 0)
      return { refused: 'invalid_claim' };
    for (let i = 0; i < p.years.length; i++)
      if (!isInt(p.years[i]) || p.years[i] < 2000 || p.years[i] > 2200 || (i > 0 && p.years[i] <= p.years[i - 1]))
        return { refused: 'invalid_claim' };
    if (!p.revoked || typeof p.revoked !== 'object' || Array.isArray(p.revoked) ||
        names(p.revoked).length !== p.years.length)
      return { refused: 'invalid_claim' };
    const revoked = new Set();
    for (const y of p.years) {
      const serials = p.revoked[String(y)];
      if (!Array.isArray(serials)) return { refused: 'invalid_claim' };
      for (let i = 0; i < serials.length; i++) {
        if (!validSerial(serials[i]) || (i > 0 && serials[i - 1] >= serials[i])) return { refused: 'invalid_claim' };
        revoked.add(serials[i] + '/' + y);
      }
    }
    if (p.iss !== issuer) return { refused: 'wrong_issuer' };
    if (p.iat > nowSec + leeway) return { refused: 'not_yet_valid' };
    if (nowSec >= p.exp) return { refused: 'expired' };
    if (held && (p.seq < held.seq || (p.seq === held.seq && p.iat < held.iat))) return { refused: 'stale' };
    return { list: { seq: p.seq, iat: p.iat, exp: p.exp, years: p.years, revoked } };
  }

  // --- A token, as signing::TokenVerifier, then the list --------------------------------------
  const NOT_OURS = ['malformed', 'too_large', 'unsupported_algorithm', 'wrong_kind', 'missing_kid', 'missing_claim',
    'invalid_claim', 'wrong_issuer', 'unknown_serial'];
  function outcomeFor(reason) {  // scan::OutcomeForReason
    if (!reason) return 'valid';
    if (reason === 'revoked' || reason === 'expired' || reason === 'not_yet_valid') return reason;
    if (reason === 'unknown_kid') return 'unknown_key';
    return NOT_OURS.includes(reason) ? 'not_lerarenkaart' : 'damaged';
  }
  async function verifyToken(token, nowSec, knowledge) {
    const refuse = (reason) => ({ reason, outcome: outcomeFor(reason) });
    if (!knowledge || !knowledge.keys.size) return { outcome: 'unchecked', reason: 'no_keys' };  // never fetched
    if (token.length > 2048) return refuse('too_large');
    const parts = splitCompact(token);
    if (typeof parts === 'string') return refuse(parts);
    const header = parseObject(parts[0]);
    if (!header) return refuse('bad_json');
    if (header.alg !== 'ES256') return refuse('unsupported_algorithm');
    for (const n of names(header))
      if (n !== 'alg' && n !== 'kid' && !(n === 'typ' && header.typ === 'JWT')) return refuse('wrong_kind');
    if (typeof header.kid !== 'string') return refuse('missing_kid');
    const k = knowledge.keys.get(header.kid);
    if (!k || k.use !== 'token') return refuse('unknown_kid');
    const bad = await checkEs256(k.key, token.slice(0, token.lastIndexOf('.')), parts[2]);
    if (bad) return refuse(bad);
    const c = parseObject(parts[1]);
    if (!c) return refuse('bad_json');
    const claims = ['iss', 'sub', 'y', 'nbf', 'exp'];
    if (names(c).some((n) => !claims.includes(n))) return refuse('wrong_kind');
    if (claims.some((n) => !(n in c))) return refuse('missing_claim');
    if (typeof c.iss !== 'string' || !validSerial(c.sub) || !isInt(c.y) || !isInt(c.nbf) || !isInt(c.exp) ||
        c.y < 2000 || c.y > 2200)
      return refuse('invalid_claim');
    const v = { serial: c.sub, year: c.y };
    if (c.iss !== issuer) return { ...refuse('wrong_issuer'), ...v };
    if (nowSec + leeway < c.nbf) return { ...refuse('not_yet_valid'), ...v };
    if (nowSec - leeway >= c.exp) return { ...refuse('expired'), ...v };
    const list = knowledge.list;
    if (!list || nowSec >= list.exp || !list.years.includes(c.y)) return { outcome: 'unchecked', ...v };
    if (list.revoked.has(c.sub + '/' + c.y)) return { ...refuse('revoked'), ...v };
    return { outcome: 'valid', reason: '', ...v };
  }
  desk.verifyToken = verifyToken;
  desk.readRevocations = async (jws, nowSec, held) => {  // for tests: the revoked set as a list
    const r = await readRevocations(jws, desk.knowledge.keys, nowSec, held);
    return r.list ? { list: { ...r.list, revoked: [...r.list.revoked] } } : r;
  };

  // --- What this browser knows: keys and list, through the service worker ----------------------
  const HELD = 'lk-desk-held-list';
  async function loadKnowledge() {
    try {
      const [jr, lr] = await Promise.all([fetch('/.well-known/jwks.json', { cache: 'no-cache' }),
        fetch('/v1/revocations', { cache: 'no-cache' })]);
      if (!jr.ok) throw new Error('JWK Set: HTTP ' + jr.status);
      const keys = await readJwks(await jr.text());
      const fetchedAt = Number(lr.headers.get('X-Lk-Fetched')) || Date.now();
      let held = null;
      try { held = JSON.parse(localStorage.getItem(HELD) || 'null'); } catch { held = null; }
      let list = null, refused = null;
      if (lr.ok) {
        const r = await readRevocations((await lr.text()).trim(), keys, Math.floor(Date.now() / 1000), held);
        list = r.list || null;
        refused = r.refused || null;
        if (list) localStorage.setItem(HELD, JSON.stringify({ seq: list.seq, iat: list.iat }));
      } else {
        refused = 'HTTP ' + lr.status;
      }
      desk.knowledge = { keys, list, refused, fetchedAt };
    } catch (e) {
      if (!desk.knowledge) desk.knowledge = { keys: new Map(), list: null, refused: String(e), fetchedAt: 0 };
    }
    return desk.knowledge;
  }
  function ageText(ms) {
    const minutes = Math.max(0, Math.floor(ms / 60000));
    return minutes < 120 ? cfg.minutes.replace('{n}', minutes) : cfg.hours.replace('{n}', Math.floor(minutes / 60));
  }
  // The sentence about an offline verdict's knowledge; stale when older than the configured age.
  function knowledgeLine() {
    const k = desk.knowledge;
    if (!k || !k.list) return { text: cfg.knowledgeNone, stale: true };
    const age = Date.now() - k.fetchedAt;
    let text = cfg.knowledgeOffline.replace('{age}', ageText(age));
    const stale = age > maxAgeMs;
    if (stale) text += ' ' + cfg.knowledgeStale.replace('{age}', ageText(age)).replace('{max}', ageText(maxAgeMs));
    return { text, stale };
  }

  // --- Handheld scanners on the wrong keyboard layout (as web/scanner_keyboard.cc) -------------
  const US_ON_BE = { '&': '1', 'é': '2', '"': '3', "'": '4', '(': '5', '§': '6', 'è': '7', '!': '8', 'ç': '9',
    'à': '0', ')': '-', '°': '_', ':': '.', ',': 'm', '?': 'M', q: 'a', a: 'q', Q: 'A', A: 'Q', w: 'z', z: 'w',
    W: 'Z', Z: 'W', m: null, M: null };
  const BE_ON_US = { '!': '1', '@': '2', '#': '3', $: '4', '%': '5', '^': '6', '&': '7', '*': '8', '(': '9',
    ')': '0', '=': '-', '+': '_', '<': '.', ';': 'm', ':': 'M', q: 'a', a: 'q', Q: 'A', A: 'Q', w: 'z', z: 'w',
    W: 'Z', Z: 'W', m: null, M: null };
  const tokenShaped = (s) => s.length <= 2048 && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(s);
  function mapLayout(typed, table) {
    let out = '';
    for (const ch of typed) {
      const meant = ch in table ? table[ch] : ch;
      if (meant === null || !/^[A-Za-z0-9_.-]$/.test(meant)) return null;
      out += meant;
    }
    return tokenShaped(out) ? out : null;
  }
  function repairLayout(typed) {
    if (tokenShaped(typed) || typed.length > 8192) return null;
    const us = mapLayout(typed, US_ON_BE), be = mapLayout(typed, BE_ON_US);
    return us && !be ? us : be && !us ? be : null;
  }
  desk.repairLayout = repairLayout;

  // --- Showing a verdict ----------------------------------------------------------------------
  function show(v, repaired, how) {
    const box = $('verdict');
    const valid = v.outcome === 'valid', unchecked = v.outcome === 'unchecked';
    box.className = 'verdict ' + (valid ? 'valid' : unchecked ? 'unchecked' : 'invalid');
    box.dataset.outcome = v.outcome;
    box.dataset.how = how;
    const year = v.year == null ? '' : String(v.year);
    $('verdict-heading').textContent = (valid ? cfg.valid : unchecked ? cfg.cannot : cfg.invalid).replace('{year}', year);
    $('verdict-reason').textContent = v.reason === 'no_keys' ? cfg.knowledgeNone
      : (cfg['reason' + v.outcome[0].toUpperCase() + v.outcome.slice(1)] || cfg.reasonDamaged).replace('{year}', year);
    const vouched = ['valid', 'revoked', 'expired', 'not_yet_valid', 'unchecked'].includes(v.outcome) && v.serial;
    $('verdict-card').hidden = !vouched;
    $('verdict-serial').textContent = vouched ? v.serial : '';
    $('verdict-repaired').hidden = !repaired;
    const line = $('knowledge');
    if (how === 'online') {
      line.textContent = cfg.knowledgeOnline;
      line.className = 'knowledge';
    } else {
      const k = knowledgeLine();
      line.textContent = k.text;
      line.className = 'knowledge' + (k.stale ? ' stale' : '');
    }
    line.hidden = false;
  }
  function notice(text) {
    const box = $('verdict');
    box.className = 'verdict ready';
    box.dataset.outcome = '';
    $('verdict-heading').textContent = text;
    $('verdict-reason').textContent = '';
    $('verdict-card').hidden = true;
  }

  async function askServer(token) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 4000);
    try {
      const r = await fetch('/desk/scan', {
        method: 'POST', credentials: 'same-origin', signal: abort.signal,
        headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf, token }).toString(),
      });
      if (r.status === 401 || r.status === 403) { location.reload(); return null; }  // signed out meanwhile
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return await r.json();
    } finally {
      clearTimeout(timer);
    }
  }

  // The verdict on what was scanned, typed or pasted: the server's when it answers, else ours.
  async function judge(raw, source, started) {
    let token = raw.trim();
    let repaired = false;
    if (!token) { notice(cfg.empty); return; }
    if (!tokenShaped(token)) {
      const fixed = repairLayout(token);
      if (fixed) { token = fixed; repaired = true; }
    }
    let v = null, how = 'online';
    if (navigator.onLine !== false) {
      try { v = await askServer(token); } catch { v = null; }
      if (v) repaired = repaired || v.repaired;
    }
    let localMs = null;
    if (!v) {
      how = 'offline';
      if (!desk.knowledge || !desk.knowledge.keys.size) await loadKnowledge();
      const t = performance.now();
      v = await verifyToken(token, Math.floor(Date.now() / 1000), desk.knowledge);
      localMs = performance.now() - t;
    }
    show(v, repaired, how);
    desk.timings.push({ source, how, outcome: v.outcome, ms: performance.now() - started, verifyMs: localMs });
    field.value = '';
    if (source !== 'camera') field.focus();
    else $('verdict').scrollIntoView({ block: 'nearest' });
  }

  // --- The scan field: scanner, keyboard, paste ------------------------------------------------
  let lastKey = 0, fastKeys = 0;
  field.addEventListener('keydown', (e) => {
    const now = performance.now();
    if (e.key.length === 1) { fastKeys = now - lastKey < 30 ? fastKeys + 1 : 0; lastKey = now; }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const started = performance.now();
    const source = fastKeys > 10 ? 'scanner' : 'typed';
    fastKeys = 0;
    judge(field.value, source, started);
  });
  // Keys typed while focus is elsewhere (after a tap on the page) go to the field, so that a
  // scanner's first characters are not lost.
  document.addEventListener('keydown', (e) => {
    const t = e.target;
    if (t === field || e.ctrlKey || e.metaKey || e.altKey || e.key.length !== 1) return;
    if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLButtonElement) return;
    field.focus();
    field.value += e.key;
    e.preventDefault();
  });

  // --- The camera -------------------------------------------------------------------------------
  const camera = $('camera'), toggle = $('camera-toggle'), video = $('camera-video'), status = $('camera-status');
  let stream = null, canvas = null, lastCode = '', lastAt = 0, busy = false;
  function loadJsqr() {
    if (window.jsQR) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = '/static/jsqr.js';
      s.onload = resolve;
      s.onerror = reject;
      document.head.append(s);
    });
  }
  async function frame() {
    if (!stream) return;
    if (!busy && video.readyState >= 2 && video.videoWidth) {
      const started = performance.now();
      const scale = Math.min(1, 800 / video.videoWidth);
      const w = Math.round(video.videoWidth * scale), h = Math.round(video.videoHeight * scale);
      if (!canvas) canvas = document.createElement('canvas');
      if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
      const g = canvas.getContext('2d', { willReadFrequently: true });
      g.drawImage(video, 0, 0, w, h);
      const code = window.jsQR(g.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: 'dontInvert' });
      if (code && code.data && (code.data !== lastCode || Date.now() - lastAt > 3000)) {
        lastCode = code.data;
        lastAt = Date.now();
        busy = true;
        try { await judge(code.data, 'camera', started); } finally { busy = false; }
      }
    }
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(frame);
    else setTimeout(frame, 80);
  }
  async function startCamera() {
    try {
      await loadJsqr();
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment', width: { ideal: 1280 } }, audio: false });
    } catch {
      stream = null;
      status.textContent = cfg.cameraDenied;
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    document.body.classList.add('camera-on');
    await video.play().catch(() => {});
    toggle.textContent = cfg.cameraStop;
    toggle.setAttribute('aria-pressed', 'true');
    status.textContent = cfg.cameraLooking;
    frame();
  }
  function stopCamera() {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.hidden = true;
    document.body.classList.remove('camera-on');
    toggle.textContent = cfg.cameraStart;
    toggle.setAttribute('aria-pressed', 'false');
    status.textContent = '';
  }
  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    camera.hidden = false;
    toggle.addEventListener('click', () => (stream ? stopCamera() : startCamera()));
  }

  // --- Offline support --------------------------------------------------------------------------
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/desk/sw.js', { scope: '/desk' }).catch(() => {});
  desk.ready = loadKnowledge();
  window.addEventListener('online', loadKnowledge);
  setInterval(loadKnowledge, 60000);
})();
