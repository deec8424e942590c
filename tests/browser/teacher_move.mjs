// A teacher moves the card to a new phone, in headless Debian Chromium at a phone's viewport
// (390x844), JavaScript off: open the mailed claim link (a code from `import roster
// --claim-codes`), claim, see the card, download the pass (validated), close the browser and open
// it again (still signed in), move the card ("new phone"), see the new card with a new QR code and
// the wallet buttons. Then a partner's POST /v1/verify answers `revoked` for the old token and
// `active` for the new one. Every page of the move is checked by axe-core (WCAG 2.1 A and AA) in
// nl, fr and en, screenshot at 390x844, measured (< 30 KB transferred) and watched for requests
// to any other host.
// Usage: node teacher_move.mjs LERARENKAART_BINARY ARTIFACT_DIR
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Harness, PHONE } from './lib/harness.mjs';
import { cardQr, downloadApplePass } from './lib/card.mjs';

const h = new Harness('teacher_move.mjs', [], 'lk-move-');
const { artifacts, work } = h;
const check = h.check.bind(h);

// Staff: a roster of three with claim codes, and a partner's API key, by the CLI.
const codes = h.importRoster(
  'staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n' +
  'T1,Sofie,Van den Broeck,teaching,GO,basic,012345,9000,no\n' +
  'T2,Jan,Peeters,teaching,GO,basic,054321,2000,no\n' +
  'T3,Aïcha,El Amrani,teaching,OGO,secondary,067890,1000,no\n');
const partnerKey = h.cli('partners', 'add', 'museum-desk').trim();

// The real service on 127.0.0.1:0.
const base = await h.serve();

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
const launch = () => h.launch({ profile: 'chromium-profile' });
const sizes = [];
const phonePage = (browser) => h.phonePage(browser, sizes);
async function submit(page, selector) {
  const [resp] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  return resp;
}
const qrOf = (page, name) => cardQr(h, page, name);
const downloadPass = (browser, state, name) => downloadApplePass(h, browser, state, name);

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
  await h.shot(page, 'move-card-full-nl', { fullPage: true });
  // Sign out still works after the move: the device no longer shows the card.
  await phone.visit('move-signed-out-nl', () => submit(page, 'form.signout button'));
  check(new URL(page.url()).pathname === '/', 'signed out after the move: back on /');
  await page.goto(`${base}/card`);
  check(new URL(page.url()).pathname === '/', 'after signing out /card leads to /');
  check(await verify(newToken) === '200 active', 'signing out leaves the card valid');
  await browser.close();

  // 6. Accessibility of the move's pages in every language (another teacher, another profile).
  const a11yBrowser = await h.launch({ profile: 'a11y-profile', lang: null });
  try {
    const a11y = await a11yBrowser.newPage();
    await a11y.setViewport(PHONE);
    await a11y.setBypassCSP(true);
    async function audit(name, lang) {
      check(await a11y.$eval('html', (h) => h.lang) === lang, `${name} (${lang}): <html lang="${lang}">`);
      await h.shot(a11y, `${name}-${lang}`);
      await h.axe(a11y, `${name} (${lang})`);
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
    await left.setViewport(PHONE);
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
  h.stop();
}
fs.writeFileSync(path.join(artifacts, 'move-sizes.json'), JSON.stringify(sizes, null, 1) + '\n');
h.finish('screenshots and sizes');
