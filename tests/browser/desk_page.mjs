// The partner's desk in headless Debian Chromium at a phone's viewport (390x844): a partner signs
// in with the partner key; the camera (Chromium's fake device fed a video of a card's QR code)
// reaches the green verdict; a revoked card, an expired one, one signed by an unknown key and a
// forged one, typed in by a "scanner", reach their red verdicts; a scanner on the wrong keyboard
// layout is repaired; with the network cut (DevTools offline) after one visit the page still opens
// and verifies in the browser, showing its list's age; a list older than the configured age warns;
// without JavaScript the form still gets the server's verdict. axe-core checks WCAG 2.1 A and AA
// in nl, fr and en. Measures token-to-verdict offline and camera-frame-to-verdict (performance.now).
// Usage: node desk_page.mjs LERARENKAART_BINARY ARTIFACT_DIR
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Harness, PHONE, sleep } from './lib/harness.mjs';

const h = new Harness('desk_page.mjs', [], 'lk-desk-');
const { artifacts, work, data, year } = h;
const check = h.check.bind(h);
const cli = (dir, ...args) => h.cliIn(dir, ...args).trim();
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * p))] : NaN; };

// A roster, a partner key, and the real service on 127.0.0.1:0.
const codes = h.importRoster(
  'staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n' +
  'T1,Sofie,Van den Broeck,teaching,GO,basic,012345,9000,no\n' +
  'T2,Jan,Peeters,teaching,GO,basic,054321,2000,no\n');
const partnerKey = cli(data, 'partners', 'add', 'Museum M');
const base = await h.serve();

// The cards: two claimed (one then revoked), an expired token, one signed by another issuer's
// key, and a forged one (a changed signature).
async function claim(code) {
  const r = await fetch(`${base}/v1/claims`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ claim_code: code }) });
  if (r.status !== 201) throw new Error('claim: HTTP ' + r.status);
  return r.json();
}
const good = await claim(codes.T1), gone = await claim(codes.T2);
cli(data, 'ledger', 'revoke', '--serial', gone.serial, '--reason', 'lost');
const expired = cli(data, 'token', 'issue', '--serial', good.serial, '--year', String(year - 2), '--at', `${year - 2}-03-01T12:00:00Z`);
const otherDir = path.join(work, 'other');
cli(otherDir, 'demo');
const foreign = cli(otherDir, 'token', 'issue', '--serial', 'AAAABBBBCCCC', '--year', String(year));
const i = good.token.length - 5;
const forged = good.token.slice(0, i) + (good.token[i] === 'A' ? 'B' : 'A') + good.token.slice(i + 1);

// Crafted tokens and lists, signed here with the service's own development keys (as an attacker
// holding a key, or our issuer making a mistake, would), for the offline verifier's strictness.
const N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551n;
function pemOf(use) {
  const dir = path.join(data, 'keys', use);
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.pem'));
  return { kid: file.slice(0, -4), key: crypto.createPrivateKey(fs.readFileSync(path.join(dir, file))) };
}
const tokenKey = pemOf('token'), listKey = pemOf('revocations');
const b64u = (x) => Buffer.from(x).toString('base64url');
function sign(headerText, payloadText, { key = tokenKey.key, highS = false } = {}) {
  const input = b64u(headerText) + '.' + b64u(payloadText);
  const sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  let s = BigInt('0x' + sig.subarray(32).toString('hex'));
  if (s > N >> 1n) s = N - s;
  if (highS) s = N - s;
  return input + '.' + b64u(Buffer.concat([sig.subarray(0, 32), Buffer.from(s.toString(16).padStart(64, '0'), 'hex')]));
}
const claims = JSON.parse(Buffer.from(good.token.split('.')[1], 'base64url').toString());
const hdr = (extra = {}) => JSON.stringify({ alg: 'ES256', kid: tokenKey.kid, ...extra });
const pay = (extra = {}, drop = []) => {
  const c = { ...claims, ...extra };
  for (const d of drop) delete c[d];
  return JSON.stringify(c);
};
const nowSec = Math.floor(Date.now() / 1000);
const lastChar = good.token.at(-1), B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const crafted = [
  ['as issued', good.token, 'valid'],
  ['typ JWT in the header', sign(hdr({ typ: 'JWT' }), pay()), 'valid'],
  ['spaces in the claims', sign(hdr(), pay().replace(/,/g, ', ')), 'valid'],
  ['jku in the header', sign(hdr({ jku: 'https://evil.example/jwks' }), pay()), 'not_lerarenkaart'],
  ['alg HS256', sign(JSON.stringify({ alg: 'HS256', kid: tokenKey.kid }), pay()), 'not_lerarenkaart'],
  ['no kid', sign(JSON.stringify({ alg: 'ES256' }), pay()), 'not_lerarenkaart'],
  ['an unknown kid', sign(hdr({ kid: 'AAAAAA' }), pay()), 'unknown_key'],
  ['the revocation-list key', sign(hdr({ kid: listKey.kid }), pay(), { key: listKey.key }), 'unknown_key'],
  ['a high-s signature', sign(hdr(), pay(), { highS: true }), 'damaged'],
  ['an extra claim', sign(hdr(), pay({ name: 'x' })), 'not_lerarenkaart'],
  ['no exp', sign(hdr(), pay({}, ['exp'])), 'not_lerarenkaart'],
  ['y as 2026.0', sign(hdr(), pay().replace(`"y":${claims.y}`, `"y":${claims.y}.0`)), 'not_lerarenkaart'],
  ['y as a string', sign(hdr(), pay({ y: String(claims.y) })), 'not_lerarenkaart'],
  ['a serial with a slash', sign(hdr(), pay({ sub: 'AB/CD' })), 'not_lerarenkaart'],
  ['another issuer', sign(hdr(), pay({ iss: 'https://evil.example' })), 'not_lerarenkaart'],
  ['a duplicate claim', sign(hdr(), pay().replace('{', `{"sub":"${gone.serial}",`)), 'damaged'],
  ['not yet valid', sign(hdr(), pay({ nbf: nowSec + 7200 })), 'not_yet_valid'],
  ['expired yesterday', sign(hdr(), pay({ exp: nowSec - 86400 })), 'expired'],
  ['padding on the signature', good.token + '=', 'damaged'],
  ['set padding bits', good.token.slice(0, -1) + B64[B64.indexOf(lastChar) ^ 1], 'damaged'],
  ['a changed claim', good.token.split('.')[0] + '.' + b64u(pay({ sub: gone.serial })) + '.' + good.token.split('.')[2], 'damaged'],
  ['two parts', good.token.split('.').slice(0, 2).join('.'), 'not_lerarenkaart'],
  ['a web address', 'https://example.org/card', 'not_lerarenkaart'],
];
const listHeader = JSON.stringify({ alg: 'ES256', kid: listKey.kid, typ: 'lk-revocations+jwt' });
const listPayload = (extra = {}) => JSON.stringify({ iss: claims.iss, typ: 'revocations', iat: nowSec - 60, exp: nowSec + 3600,
  seq: 1000, years: [claims.y], revoked: { [claims.y]: [gone.serial] }, ...extra });
const craftedLists = [
  ['well formed', sign(listHeader, listPayload(), { key: listKey.key }), null],
  ['a changed payload', (() => { const l = sign(listHeader, listPayload(), { key: listKey.key }).split('.');
    return [l[0], b64u(listPayload({ revoked: { [claims.y]: [] } })), l[2]].join('.'); })(), 'bad_signature'],
  ['signed with the token key', sign(JSON.stringify({ alg: 'ES256', kid: tokenKey.kid, typ: 'lk-revocations+jwt' }), listPayload()), 'unknown_kid'],
  ['a high-s signature', sign(listHeader, listPayload(), { key: listKey.key, highS: true }), 'non_canonical_signature'],
  ['expired', sign(listHeader, listPayload({ iat: nowSec - 7200, exp: nowSec - 60 }), { key: listKey.key }), 'expired'],
  ['another issuer', sign(listHeader, listPayload({ iss: 'https://evil.example' }), { key: listKey.key }), 'wrong_issuer'],
  ['an extra member', sign(listHeader, listPayload({ note: 'x' }), { key: listKey.key }), 'wrong_kind'],
  ['a token, not a list', good.token, 'wrong_kind'],
  ['older than the one held', sign(listHeader, listPayload({ seq: 5 }), { key: listKey.key }), 'stale'],
];

// The fake camera's video: the good card's QR code (qrencode's module matrix), drawn into a
// 640x480 Y4M (YUV 4:2:0) of 20 frames by hand, with a little noise.
const matrix = execFileSync('qrencode', ['-t', 'ASCII', '-m', '4', '-l', 'M', good.token], { encoding: 'utf8' })
  .split('\n').filter((l) => l.length).map((l) => { const row = []; for (let c = 0; c < l.length; c += 2) row.push(l[c] === '#'); return row; });
const W = 640, H = 480, modules = matrix.length, scale = Math.floor(460 / modules);
const x0 = Math.floor((W - modules * scale) / 2), y0 = Math.floor((H - modules * scale) / 2);
const y4m = path.join(work, 'card.y4m');
const fd = fs.openSync(y4m, 'w');
fs.writeSync(fd, `YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`);
let seed = 7;
for (let f = 0; f < 20; f++) {
  const yPlane = Buffer.alloc(W * H, 200);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const mx = Math.floor((x - x0) / scale), my = Math.floor((y - y0) / scale);
      const dark = my >= 0 && my < modules && mx >= 0 && mx < modules && matrix[my][mx];
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      yPlane[y * W + x] = (dark ? 30 : 225) + (seed % 16) - 8;
    }
  }
  fs.writeSync(fd, 'FRAME\n');
  fs.writeSync(fd, yPlane);
  fs.writeSync(fd, Buffer.alloc((W / 2) * (H / 2) * 2, 128));
}
fs.closeSync(fd);

const browser = await h.launch({ args: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
                                        `--use-file-for-fake-video-capture=${y4m}`] });
const figures = {};
const axe = (page, what) => h.axe(page, what);
const shot = (page, name) => h.shot(page, `desk-${name}`);
// Types `text` into the scan field as a wedge scanner does (fast keys, then Enter); returns the verdict.
async function scan(page, text) {
  const n = await page.evaluate(() => window.lkDesk.timings.length);
  await page.focus('#token');
  await page.keyboard.sendCharacter(text);
  await page.keyboard.press('Enter');
  await page.waitForFunction((k) => window.lkDesk.timings.length > k, { timeout: 10000 }, n);
  return page.evaluate(() => ({
    outcome: document.getElementById('verdict').dataset.outcome,
    how: document.getElementById('verdict').dataset.how,
    heading: document.getElementById('verdict-heading').textContent,
    reason: document.getElementById('verdict-reason').textContent,
    serial: document.getElementById('verdict-card').hidden ? '' : document.getElementById('verdict-serial').textContent,
    repaired: !document.getElementById('verdict-repaired').hidden,
    knowledge: document.getElementById('knowledge').textContent,
    stale: document.getElementById('knowledge').classList.contains('stale'),
    focused: document.activeElement && document.activeElement.id,
    timing: window.lkDesk.timings.at(-1),
  }));
}

try {
  const page = await browser.newPage();
  await page.setViewport(PHONE);
  await page.setExtraHTTPHeaders({ 'Accept-Language': 'nl-BE,nl;q=0.9' });
  h.stayOnService(page, ['data:', 'blob:']);
  page.on('pageerror', (e) => check(false, `page error: ${e.message}`));

  // 1. Sign in once with the partner key (the desk picks Dutch, remembered in the lang cookie
  //    that the service worker's fetches carry too).
  await page.goto(`${base}/desk?lang=nl`);
  check(await page.$('#key') !== null, 'the desk asks for the partner key first');
  await axe(page, 'desk sign-in (nl)');
  await shot(page, 'signin-nl');
  await page.type('#key', 'lkp_WRONG');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  check((await page.$eval('[role=alert]', (e) => e.textContent)).includes('partnersleutel kennen we niet'), 'a wrong key is explained');
  await page.type('#key', partnerKey);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  check(await page.$('#scan-form') !== null, 'signed in: the scan page');
  const cookie = (await page.cookies()).find((c) => c.name === 'lk_desk');
  check(cookie && cookie.httpOnly && cookie.sameSite === 'Strict' && !cookie.value.includes(partnerKey),
    'the desk cookie is HttpOnly, SameSite=Strict and not the key');
  check(await page.evaluate(() => document.activeElement.id) === 'token', 'the scan field has the focus');
  const csp = (await page.goto(`${base}/desk`)).headers()['content-security-policy'];
  check(csp.includes("script-src 'self'") && !csp.includes('unsafe'), `a strict CSP: ${csp}`);
  await page.evaluate(() => window.lkDesk.ready);
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await axe(page, 'desk ready (nl)');
  await shot(page, 'ready-nl');

  // 2. The camera: the fake device shows the good card's QR code.
  const before = await page.evaluate(() => window.lkDesk.timings.length);
  await page.click('#camera-toggle');
  await page.waitForFunction((k) => window.lkDesk.timings.length > k, { timeout: 30000 }, before);
  let v = await page.evaluate(() => ({ outcome: document.getElementById('verdict').dataset.outcome,
    heading: document.getElementById('verdict-heading').textContent, timing: window.lkDesk.timings.at(-1) }));
  check(v.outcome === 'valid' && v.heading === `Geldige Lerarenkaart ${year}`, `camera: green "${v.heading}"`);
  check(v.timing.source === 'camera', 'the verdict came from the camera');
  await shot(page, 'valid-camera-nl');
  // More camera verdicts for the figure: the same code is judged again after 3 s.
  const cameraMs = [v.timing.ms];
  for (let k = 0; k < 4; k++) {
    const n = await page.evaluate(() => window.lkDesk.timings.length);
    await page.waitForFunction((m) => window.lkDesk.timings.length > m, { timeout: 15000 }, n);
    cameraMs.push(await page.evaluate(() => window.lkDesk.timings.at(-1).ms));
  }
  await page.click('#camera-toggle');
  figures.camera_frame_to_verdict_ms = { median: median(cameraMs), max: Math.max(...cameraMs), runs: cameraMs.length, path: 'online' };

  // 3. Red verdicts from the "scanner".
  for (const [name, token, outcome, words] of [
    ['revoked', gone.token, 'revoked', 'ingetrokken'], ['expired', expired, 'expired', 'verlopen'],
    ['unknown-key', foreign, 'unknown_key', 'niet ondertekend'], ['forged', forged, 'damaged', 'beschadigd']]) {
    v = await scan(page, token);
    check(v.outcome === outcome && v.heading === 'Niet geldig' && v.reason.includes(words),
      `${name}: red "${v.heading}: ${v.reason}"`);
    check(v.focused === 'token', `${name}: ready for the next scan`);
    await shot(page, `${name}-nl`);
  }
  check(v.serial === '', 'a forged code shows no card number');
  v = await scan(page, gone.token);
  check(v.serial === gone.serial, 'a revoked card shows its number');
  await axe(page, 'desk red verdict (nl)');
  // The scanner on a US layout typing into a Belgian PC.
  const usOnBe = { 1: '&', 2: 'é', 3: '"', 4: "'", 5: '(', 6: '§', 7: 'è', 8: '!', 9: 'ç', 0: 'à', '-': ')', _: '°',
    '.': ':', m: ',', M: '?', a: 'q', q: 'a', A: 'Q', Q: 'A', z: 'w', w: 'z', Z: 'W', W: 'Z' };
  v = await scan(page, [...good.token].map((c) => usOnBe[c] ?? c).join(''));
  check(v.outcome === 'valid' && v.repaired, 'a US-layout scanner on a Belgian PC: repaired, green, and the setting named');
  await shot(page, 'repaired-nl');
  // A scan typed key by key while the focus is elsewhere on the page: no character is lost.
  await page.evaluate(() => document.activeElement.blur());
  const k0 = await page.evaluate(() => window.lkDesk.timings.length);
  await page.keyboard.type(gone.token);
  await page.keyboard.press('Enter');
  await page.waitForFunction((k) => window.lkDesk.timings.length > k, { timeout: 10000 }, k0);
  check(await page.evaluate(() => document.getElementById('verdict').dataset.outcome) === 'revoked',
    'keys typed with the focus elsewhere reach the field: revoked');

  // 3b. The same strictness online (the server, through the desk's JSON answer) and in the
  //     browser (WebCrypto), on crafted tokens; and the list's checks before it is used.
  for (const [what, token, want] of crafted) {
    const [server, browserSide] = await page.evaluate(async (t) => {
      const csrf = document.querySelector('input[name=csrf]').value;
      const r = await fetch('/desk/scan', { method: 'POST', headers: { Accept: 'application/json',
        'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, token: t }).toString() });
      const local = await window.lkDesk.verifyToken(t, Math.floor(Date.now() / 1000), window.lkDesk.knowledge);
      return [(await r.json()).outcome, local.outcome];
    }, token);
    check(server === want && browserSide === want, `${what}: server ${server}, browser ${browserSide} (want ${want})`);
  }
  const noKeys = await page.evaluate((t) => window.lkDesk.verifyToken(t, Math.floor(Date.now() / 1000),
    { keys: new Map(), list: null }), good.token);
  check(noKeys.outcome === 'unchecked', `with no keys fetched yet: ${noKeys.outcome}, never green`);
  for (const [what, jws, want] of craftedLists) {
    const r = await page.evaluate((j) => window.lkDesk.readRevocations(j, Math.floor(Date.now() / 1000), { seq: 999, iat: 0 }), jws);
    check((r.refused || null) === want, `revocation list ${what}: ${r.refused || 'accepted'}`);
    if (!want) check(r.list.revoked.includes(`${gone.serial}/${claims.y}`), 'an accepted list lists its revoked card');
  }

  // 4. Offline: the network cut in DevTools for the page and its service worker.
  const swTarget = await browser.waitForTarget((t) => t.type() === 'service_worker');
  const sw = await swTarget.createCDPSession();
  await sw.send('Network.enable');
  const offline = { offline: true, latency: 0, downloadThroughput: 0, uploadThroughput: 0 };
  await sw.send('Network.emulateNetworkConditions', offline);
  await page.setOfflineMode(true);
  await page.reload();
  check(await page.$('#scan-form') !== null, 'offline: the desk page opens from the service worker');
  await page.evaluate(() => window.lkDesk.ready);
  v = await scan(page, good.token);
  check(v.outcome === 'valid' && v.how === 'offline', `offline: green, verified in the browser (${v.heading})`);
  check(/intrekkingslijst van \d+ min geleden/.test(v.knowledge) && !v.stale, `offline: the list's age is shown: "${v.knowledge}"`);
  await shot(page, 'offline-valid-nl');
  for (const [token, outcome] of [[gone.token, 'revoked'], [expired, 'expired'], [foreign, 'unknown_key'], [forged, 'damaged']]) {
    v = await scan(page, token);
    check(v.outcome === outcome && v.how === 'offline', `offline: ${outcome}`);
  }
  await shot(page, 'offline-forged-nl');
  // The camera offline: frame to verdict without the server.
  const n0 = await page.evaluate(() => window.lkDesk.timings.length);
  await page.click('#camera-toggle');
  await page.waitForFunction((k) => window.lkDesk.timings.length > k, { timeout: 30000 }, n0);
  const offlineCameraMs = [];
  for (let k = 0; k < 4; k++) {
    const n = await page.evaluate(() => window.lkDesk.timings.length);
    await page.waitForFunction((m) => window.lkDesk.timings.length > m, { timeout: 15000 }, n);
    const t = await page.evaluate(() => window.lkDesk.timings.at(-1));
    check(t.source === 'camera' && t.how === 'offline' && t.outcome === 'valid', `offline camera: ${t.outcome} (${t.how})`);
    offlineCameraMs.push(t.ms);
  }
  await page.click('#camera-toggle');
  figures.camera_frame_to_verdict_offline_ms = { median: median(offlineCameraMs), max: Math.max(...offlineCameraMs), runs: offlineCameraMs.length };
  // Token to verdict in the browser, offline: through the form, and the verifier alone.
  const uiMs = [];
  for (let k = 0; k < 20; k++) uiMs.push((await scan(page, good.token)).timing.ms);
  const verifyMs = await page.evaluate(async (t) => {
    const out = [];
    for (let k = 0; k < 200; k++) {
      const s = performance.now();
      await window.lkDesk.verifyToken(t, Math.floor(Date.now() / 1000), window.lkDesk.knowledge);
      out.push(performance.now() - s);
    }
    return out;
  }, good.token);
  figures.offline_token_to_verdict_ms = { median: median(uiMs), p95: pct(uiMs, 0.95), runs: uiMs.length };
  figures.offline_verify_only_ms = { median: median(verifyMs), p95: pct(verifyMs, 0.95), runs: verifyMs.length };

  // 5. A stale list: the same offline desk 25 hours later (the page's clock moved on).
  const later = await browser.newPage();
  await later.setViewport(PHONE);
  await later.setOfflineMode(true);
  await later.evaluateOnNewDocument(() => {
    const shift = 25 * 3600 * 1000, now = Date.now.bind(Date);
    Date.now = () => now() + shift;
  });
  await later.goto(`${base}/desk`);
  await later.evaluate(() => window.lkDesk.ready);
  v = await scan(later, good.token);
  check(v.outcome === 'valid' && v.stale && v.knowledge.includes('Let op'), `stale list warns: "${v.knowledge}"`);
  await shot(later, 'offline-stale-nl');
  await later.close();
  // 80 hours later the kept list has expired (72 h): a signed card is not called valid.
  const muchLater = await browser.newPage();
  await muchLater.setViewport(PHONE);
  await muchLater.setOfflineMode(true);
  await muchLater.evaluateOnNewDocument(() => {
    const shift = 80 * 3600 * 1000, now = Date.now.bind(Date);
    Date.now = () => now() + shift;
  });
  await muchLater.goto(`${base}/desk`);
  await muchLater.evaluate(() => window.lkDesk.ready);
  v = await scan(muchLater, good.token);
  check(v.outcome === 'unchecked' && v.heading === 'Niet gecontroleerd' && v.knowledge.includes('zonder geldige intrekkingslijst') && v.reason.includes('echt ondertekend'),
    `an expired list: "${v.heading}: ${v.reason}"`);
  await axe(muchLater, 'desk unchecked verdict (nl)');
  await shot(muchLater, 'offline-expired-list-nl');
  await muchLater.close();
  await sw.send('Network.emulateNetworkConditions', { ...offline, offline: false });
  await page.setOfflineMode(false);

  // 6. French and English: axe on the ready page and on a verdict.
  for (const lang of ['fr', 'en']) {
    await page.goto(`${base}/desk?lang=${lang}`);
    await page.evaluate(() => window.lkDesk.ready);
    check(await page.$eval('html', (h) => h.lang) === lang, `<html lang="${lang}">`);
    await axe(page, `desk ready (${lang})`);
    v = await scan(page, good.token);
    check(v.outcome === 'valid' && v.heading.includes(String(year)), `${lang}: "${v.heading}"`);
    await axe(page, `desk green verdict (${lang})`);
    await shot(page, `valid-${lang}`);
    v = await scan(page, gone.token);
    await axe(page, `desk red verdict (${lang})`);
    await shot(page, `revoked-${lang}`);
  }

  // The sign-in form in French and English (a browser that is not signed in).
  const fresh = await browser.createBrowserContext();
  const signin = await fresh.newPage();
  await signin.setViewport(PHONE);
  for (const lang of ['fr', 'en']) {
    await signin.goto(`${base}/desk?lang=${lang}`);
    await axe(signin, `desk sign-in (${lang})`);
    await shot(signin, `signin-${lang}`);
  }
  await fresh.close();

  // Signing out leaves nothing for offline use: no service worker, no kept copies.
  const kept = await page.evaluate(async () => [(await navigator.serviceWorker.getRegistrations()).length, (await caches.keys()).length]);
  check(kept[0] === 1 && kept[1] === 1, `signed in: a service worker and its cache (${kept})`);
  await Promise.all([page.waitForNavigation(), page.click('form.signout button')]);
  check(await page.$('#key') !== null, 'signed out: the sign-in form');
  const left = await page.evaluate(async () => [(await navigator.serviceWorker.getRegistrations()).length, (await caches.keys()).length,
    localStorage.length]);
  check(left.every((n) => n === 0), `signed out: no service worker, cache or stored list left (${left})`);

  // 7. Without JavaScript: the form and the server's verdict page.
  const ctx = await browser.createBrowserContext();
  const plain = await ctx.newPage();
  await plain.setJavaScriptEnabled(false);
  await plain.setViewport(PHONE);
  await plain.goto(`${base}/desk?lang=nl`);
  await plain.type('#key', partnerKey);
  await Promise.all([plain.waitForNavigation(), plain.click('button[type=submit]')]);
  await plain.type('#token', good.token);
  await Promise.all([plain.waitForNavigation(), plain.keyboard.press('Enter')]);
  check(await plain.$eval('#verdict', (e) => e.dataset.outcome) === 'valid', 'without JavaScript: the server\'s green verdict');
  check(await plain.evaluate(() => document.activeElement.id) === 'token', 'without JavaScript: the field has the focus again');
  await shot(plain, 'nojs-valid-nl');
  await plain.type('#token', gone.token);
  await Promise.all([plain.waitForNavigation(), plain.keyboard.press('Enter')]);
  check(await plain.$eval('#verdict', (e) => e.dataset.outcome) === 'revoked', 'without JavaScript: revoked');
  await shot(plain, 'nojs-revoked-nl');
  await ctx.close();
} finally {
  await browser.close();
  h.stop();
}
fs.writeFileSync(path.join(artifacts, 'desk-figures.json'), JSON.stringify(figures, null, 1) + '\n');
console.log('figures:', JSON.stringify(figures));
h.finish('screenshots and figures');
