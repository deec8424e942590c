// A teacher moves the card to a new phone, in headless Debian Chromium at a phone's viewport
// (390x844), JavaScript off: open the mailed claim link (a code from `import roster
// --claim-codes`), claim, see the card, download the pass (validated), close the browser and open
// it again (still signed in), move the card ("new phone"), see the new card with a new QR code and
// the wallet buttons. Then a partner's POST /v1/verify answers `revoked` for the old token and
// `active` for the new one. Every page of the move is checked by axe-core (WCAG 2.1 A and AA) in
// nl, fr and en, screenshot at 390x844, measured (< 30 KB transferred) and watched for requests
// to any other host.
// Usage: node teacher_move.mjs LERARENKAART_BINARY ARTIFACT_DIR
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const [binary, artifacts] = process.argv.slice(2);
if (!binary || !artifacts) throw new Error('usage: node teacher_move.mjs LERARENKAART_BINARY ARTIFACT_DIR');
fs.mkdirSync(artifacts, { recursive: true });
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-move-'));
const data = path.join(work, 'var');
const profile = path.join(work, 'chromium-profile');
const year = new Date().getUTCFullYear();
let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}
function cli(...args) {
  return execFileSync(binary, ['--data-dir', data, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

// Staff: a roster of three with claim codes, and a partner's API key, by the CLI.
fs.writeFileSync(path.join(work, 'roster.csv'),
  'staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n' +
  'T1,Sofie,Van den Broeck,teaching,GO,basic,012345,9000,no\n' +
  'T2,Jan,Peeters,teaching,GO,basic,054321,2000,no\n' +
  'T3,Aïcha,El Amrani,teaching,OGO,secondary,067890,1000,no\n');
cli('import', 'roster', path.join(work, 'roster.csv'), '--year', String(year), '--claim-codes', path.join(work, 'codes.csv'));
const codes = Object.fromEntries(fs.readFileSync(path.join(work, 'codes.csv'), 'utf8').trim().split('\n').slice(1)
  .map((l) => l.split(',')));
const partnerKey = cli('partners', 'add', 'museum-desk').trim();

// The real service on 127.0.0.1:0.
const portFile = path.join(work, 'port');
const server = spawn(binary, ['--data-dir', data, 'serve', '--dev', '--listen', '127.0.0.1:0', '--port-file', portFile],
  { stdio: ['ignore', 'ignore', fs.openSync(path.join(work, 'serve.log'), 'w')] });
for (let i = 0; i < 300 && !fs.existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 50));
if (!fs.existsSync(portFile)) throw new Error('the service did not start: ' + fs.readFileSync(path.join(work, 'serve.log'), 'utf8'));
const base = `http://127.0.0.1:${fs.readFileSync(portFile, 'utf8').trim()}`;

async function verify(token) {
  const r = await fetch(`${base}/v1/verify`, {
    method: 'POST',
    headers: { 'Authorization': `Bearer ${partnerKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  const body = await r.json();
  return `${r.status} ${body.status}`;
}

// One phone: a browser with a profile on disk (so its cookies survive closing it).
function launch() {
  return puppeteer.launch({
    executablePath: process.env.LK_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    userDataDir: profile,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
           '--disable-dev-shm-usage', '--lang=nl-BE'],
  });
}
const sizes = [];
// A page that counts what each visit transfers and fails any request to another host.
async function phonePage(browser) {
  const page = await browser.newPage();
  await page.setViewport({ width: 390, height: 844 });
  await page.setJavaScriptEnabled(false);
  await page.setCacheEnabled(false);  // every page's size counts its stylesheet too
  await page.setExtraHTTPHeaders({ 'Accept-Language': 'nl-BE,nl;q=0.9,en;q=0.5' });  // a Flemish phone
  page.on('request', (req) => {
    const u = new URL(req.url());
    if (u.origin !== base && u.protocol !== 'data:') check(false, `request to another host: ${req.url()}`);
  });
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  const state = { page, cdp, transferred: 0, requests: [] };
  cdp.on('Network.requestWillBeSent', (e) => state.requests.push(e.request.url));
  cdp.on('Network.loadingFinished', (e) => { state.transferred += e.encodedDataLength; });
  state.visit = async (what, action) => {
    state.transferred = 0;
    state.requests = [];
    const out = await action();
    await new Promise((r) => setTimeout(r, 100));
    sizes.push({ page: what, bytes: state.transferred });
    check(state.transferred < 30 * 1024, `${what}: ${state.transferred} bytes transferred (< 30 KB)`);
    check(state.requests.every((u) => u.startsWith(base + '/')), `${what}: every request to ${base}`);
    await page.screenshot({ path: path.join(artifacts, `${what}.png`) });
    return out;
  };
  return state;
}
async function submit(page, selector) {
  const [resp] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  return resp;
}
async function qrOf(page, name) {
  const png = path.join(artifacts, `${name}.png`);
  await (await page.$('svg.qr')).screenshot({ path: png });
  try {
    return execFileSync('zbarimg', ['--quiet', '--raw', png], { encoding: 'utf8' }).trim();
  } catch (e) {
    return '';
  }
}
// Clicks "Add to Apple Wallet" and validates the downloaded pass; returns its barcode message.
async function downloadPass(browser, state, name) {
  const downloads = fs.mkdtempSync(path.join(work, 'downloads-'));
  const bcdp = await browser.target().createCDPSession();
  await bcdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
  let passResponse = null;
  const onResponse = (e) => { if (e.response.url.endsWith('/card/pass.pkpass')) passResponse = e.response; };
  state.cdp.on('Network.responseReceived', onResponse);
  check(await state.page.$eval('a.wallet.apple', (a) => a.getAttribute('href')) === '/card/pass.pkpass',
    `${name}: the Apple Wallet button is a plain link`);
  await state.page.click('a.wallet.apple');
  let file = '';
  for (let i = 0; i < 200 && !file; i++) {
    await new Promise((r) => setTimeout(r, 50));
    file = fs.readdirSync(downloads).find((f) => f.endsWith('.pkpass')) || '';
  }
  state.cdp.off('Network.responseReceived', onResponse);
  check(file !== '', `${name}: the pass downloads (${file})`);
  if (!file) return '';
  const headers = Object.fromEntries(Object.entries(passResponse ? passResponse.headers : {}).map(([k, v]) => [k.toLowerCase(), v]));
  check(passResponse && passResponse.status === 200 && headers['content-type'] === 'application/vnd.apple.pkpass',
    `${name}: the pass is application/vnd.apple.pkpass (${passResponse && passResponse.status} ${headers['content-type']})`);
  check((headers['content-disposition'] || '').startsWith('attachment'), `${name}: the pass is an attachment`);
  const pkpass = path.join(artifacts, `${name}.pkpass`);
  fs.copyFileSync(path.join(downloads, file), pkpass);
  const listing = execFileSync('unzip', ['-Z1', pkpass], { encoding: 'utf8' }).split('\n');
  check(['pass.json', 'manifest.json', 'signature'].every((f) => listing.includes(f)),
    `${name}: the pass is a zip with pass.json, manifest.json and signature`);
  const passBytes = execFileSync('unzip', ['-p', pkpass, 'pass.json']);
  const passJson = JSON.parse(passBytes.toString('utf8'));
  const manifest = JSON.parse(execFileSync('unzip', ['-p', pkpass, 'manifest.json'], { encoding: 'utf8' }));
  check(manifest['pass.json'] === crypto.createHash('sha1').update(passBytes).digest('hex'),
    `${name}: manifest.json has pass.json's SHA-1`);
  // The signature is a detached PKCS#7 over manifest.json that OpenSSL accepts as such.
  fs.writeFileSync(path.join(work, 'manifest.json'), execFileSync('unzip', ['-p', pkpass, 'manifest.json']));
  fs.writeFileSync(path.join(work, 'signature'), execFileSync('unzip', ['-p', pkpass, 'signature']));
  let signed = false;
  try {
    execFileSync('openssl', ['smime', '-verify', '-noverify', '-binary', '-inform', 'DER', '-in', path.join(work, 'signature'),
      '-content', path.join(work, 'manifest.json'), '-out', '/dev/null'], { stdio: 'ignore' });
    signed = true;
  } catch (e) { /* checked below */ }
  check(signed, `${name}: the signature verifies over manifest.json (openssl smime -verify -noverify)`);
  return passJson.barcodes ? passJson.barcodes[0].message : '';
}

let oldToken = '', newToken = '';
try {
  // 1. The mailed link, the claim, the card, the pass.
  let browser = await launch();
  let phone = await phonePage(browser);
  let page = phone.page;
  const mailed = codes.T1;
  await phone.visit('move-claim-nl', () => page.goto(`${base}/claim?code=${encodeURIComponent(mailed)}`));
  check(await page.$eval('#code', (i) => i.value) === mailed, 'the claim form is prefilled from the mailed link');
  await phone.visit('move-card-nl', () => submit(page, 'button[type=submit]'));
  check(new URL(page.url()).pathname === '/card', `claimed: on the card page (${page.url()})`);
  check((await page.$eval('#card-name', (e) => e.textContent)) === 'Sofie Van den Broeck', 'the card shows the name');
  const firstQr = await qrOf(page, 'move-card-qr-old');
  oldToken = await downloadPass(browser, phone, 'card-old');
  check(oldToken !== '' && oldToken === firstQr, 'the page\'s QR code holds the pass\'s token');
  check(await verify(oldToken) === '200 active', 'a partner verifies the card as active');

  // 2. Close the browser; open it again later: still signed in.
  await browser.close();
  browser = await launch();
  phone = await phonePage(browser);
  page = phone.page;
  await phone.visit('move-reopened-nl', () => page.goto(`${base}/`));
  check(new URL(page.url()).pathname === '/card', `after closing and reopening the browser / shows the card (${page.url()})`);
  check(await qrOf(page, 'move-card-qr-reopened') === oldToken, 'the same card as before');

  // 3. New phone: from the card page to the confirmation, then move.
  const link = await page.$('a[href="/card/move"]');
  check(link !== null, 'the card page links to moving the card');
  check((await page.$eval('a[href="/card/move"]', (a) => a.textContent)).includes('nieuwe telefoon'), 'the link says "nieuwe telefoon"');
  await phone.visit('move-confirm-nl', () => Promise.all([page.waitForNavigation(), page.click('a[href="/card/move"]')]));
  check(new URL(page.url()).pathname === '/card/move', 'the confirmation page');
  const explained = await page.$eval('main', (m) => m.textContent);
  check(explained.includes('werkt meteen niet meer'), 'the confirmation says the old card stops working');
  check(await page.$eval('form.move', (f) => f.method) === 'post', 'moving is a POST form');
  check((await page.$$('form.move input[name=csrf]')).length === 1, 'the form carries the session\'s CSRF token');
  check(await verify(oldToken) === '200 active', 'showing the confirmation moves nothing');
  let resp = await phone.visit('move-moved-nl', () => submit(page, 'form.move button[type=submit]'));
  check(resp.status() === 200 && new URL(page.url()).pathname === '/card', `moved: on the card page (${page.url()})`);
  check((await page.$eval('[role=status]', (e) => e.textContent)).includes('Je kaart is verhuisd'), 'the page says the card moved');
  check((await page.$eval('#card-name', (e) => e.textContent)) === 'Sofie Van den Broeck', 'the new card shows the name');
  const newQr = await qrOf(page, 'move-card-qr-new');
  check(newQr !== '' && newQr !== oldToken, 'the new card has a new QR code');
  newToken = await downloadPass(browser, phone, 'card-new');
  check(newToken === newQr, 'the new pass carries the new QR code');
  check((await page.$$('a.wallet.apple')).length === 1, 'the new card has its wallet button');

  // 4. The partner's verdicts.
  check(await verify(oldToken) === '200 revoked', `the old token verifies as revoked (${await verify(oldToken)})`);
  check(await verify(newToken) === '200 active', `the new token verifies as active (${await verify(newToken)})`);

  // 5. Still signed in, on the new card, after another close and reopen.
  await browser.close();
  browser = await launch();
  phone = await phonePage(browser);
  page = phone.page;
  await page.goto(`${base}/`);
  check(new URL(page.url()).pathname === '/card' && await qrOf(page, 'move-card-qr-later') === newToken,
    'reopened after the move: signed in on the new card');
  // The whole card page (the viewport shots stop at 844 px): the wallet buttons, the move link.
  await page.screenshot({ path: path.join(artifacts, 'move-card-full-nl.png'), fullPage: true });
  // Sign out still works after the move: the device no longer shows the card.
  await phone.visit('move-signed-out-nl', () => submit(page, 'form.signout button'));
  check(new URL(page.url()).pathname === '/', 'signed out after the move: back on /');
  await page.goto(`${base}/card`);
  check(new URL(page.url()).pathname === '/', 'after signing out /card leads to /');
  check(await verify(newToken) === '200 active', 'signing out leaves the card valid');
  await browser.close();

  // 6. Accessibility of the move's pages in every language (another teacher, another profile).
  const a11yBrowser = await puppeteer.launch({
    executablePath: process.env.LK_CHROMIUM || '/usr/bin/chromium', headless: true,
    userDataDir: path.join(work, 'a11y-profile'),
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-dev-shm-usage'],
  });
  try {
    const a11y = await a11yBrowser.newPage();
    await a11y.setViewport({ width: 390, height: 844 });
    await a11y.setBypassCSP(true);
    async function audit(name, lang) {
      check(await a11y.$eval('html', (h) => h.lang) === lang, `${name} (${lang}): <html lang="${lang}">`);
      await a11y.screenshot({ path: path.join(artifacts, `${name}-${lang}.png`) });
      await a11y.evaluate(axeSource);
      const result = await a11y.evaluate(() => window.axe.run(document, {
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
      const v = result.violations.map((x) => `${x.id}: ${x.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      check(v.length === 0, `axe WCAG 2.1 A/AA on ${name} (${lang})${v.length ? ': ' + v.join('; ') : ''}`);
    }
    await a11y.goto(`${base}/claim?code=${encodeURIComponent(codes.T3)}`);
    await Promise.all([a11y.waitForNavigation(), a11y.click('button[type=submit]')]);
    const csrfCookie = (await a11y.cookies()).find((c) => c.name === 'lk_session');
    check(csrfCookie !== undefined, 'the accessibility teacher is signed in');
    for (const lang of ['nl', 'fr', 'en']) {
      await a11y.goto(`${base}/card?lang=${lang}`);
      await audit('move-card', lang);
      await a11y.goto(`${base}/card/move?lang=${lang}`);
      await audit('move-confirm', lang);
      await Promise.all([a11y.waitForNavigation(), a11y.click('form.move button[type=submit]')]);
      await audit('move-moved', lang);
      // The move form again with its "expired" sentence: an old token in the form.
      await a11y.goto(`${base}/card/move?lang=${lang}`);
      await a11y.$eval('form.move input[name=csrf]', (i) => { i.value = 'expired'; });
      const r = await Promise.all([a11y.waitForNavigation(), a11y.click('form.move button[type=submit]')]);
      check(r[0].status() === 403, `a stale move form answers 403 with the form (${lang})`);
      check((await a11y.$$('[role=alert]')).length === 1, `the stale form says what to do (${lang})`);
      await audit('move-error', lang);
    }
    // A device left behind on a card that moved (its session predates the move).
    const left = await a11yBrowser.newPage();
    await left.setViewport({ width: 390, height: 844 });
    const t2 = codes.T2;
    await left.goto(`${base}/claim?code=${encodeURIComponent(t2)}&lang=en`);
    await Promise.all([left.waitForNavigation(), left.click('button[type=submit]')]);
    const leftSession = (await left.cookies()).find((c) => c.name === 'lk_session');
    // The same browser context shares cookies: move from a second context with T2's code.
    const other = await a11yBrowser.createBrowserContext();
    const mover = await other.newPage();
    await mover.goto(`${base}/claim?code=${encodeURIComponent(t2)}`);
    await Promise.all([mover.waitForNavigation(), mover.click('button[type=submit]')]);
    await mover.goto(`${base}/card/move`);
    await Promise.all([mover.waitForNavigation(), mover.click('form.move button[type=submit]')]);
    await other.close();
    await left.close();
    await a11y.bringToFront();  // headless Chromium does not paint a tab in the background
    for (const lang of ['nl', 'fr', 'en']) {
      await a11y.setCookie({ ...leftSession, url: base });
      await a11y.goto(`${base}/card?lang=${lang}`);
      check((await a11y.$$('a[href="/card/move"]')).length === 0 && (await a11y.$$('a.wallet')).length === 0,
        `a device left behind shows no move link or wallet button (${lang})`);
      await audit('move-left-behind', lang);
    }
  } finally {
    await a11yBrowser.close();
  }
} finally {
  server.kill('SIGTERM');
}
fs.writeFileSync(path.join(artifacts, 'move-sizes.json'), JSON.stringify(sizes, null, 1) + '\n');
console.log(`screenshots and sizes in ${artifacts}`);
fs.rmSync(work, { recursive: true, force: true });
if (failures) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
console.log('all checks passed');
