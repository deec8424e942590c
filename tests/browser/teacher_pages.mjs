// The teacher's pages in headless Debian Chromium at a phone's viewport (390x844): open the mailed
// claim link, claim, see the card, download the pass, come back signed in, sign out, then on a
// "new phone" ask for a new link (mailed to a real SMTP server on 127.0.0.1) and sign in with it; with
// JavaScript disabled, as every page must work without it. Then axe-core checks WCAG 2.1 A and AA
// on every page in every language, and each page's transferred size is measured (< 30 KB).
// Usage: node teacher_pages.mjs LERARENKAART_BINARY ARTIFACT_DIR
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Harness, PHONE, sleep } from './lib/harness.mjs';
import { cardQr, downloadApplePass } from './lib/card.mjs';

const h = new Harness('teacher_pages.mjs');
const { artifacts, work } = h;
const check = h.check.bind(h);

// A roster of two with addresses and claim codes, made by the CLI as staff would.
const codes = h.importRoster(
  'staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter,email\n' +
  'T1,Sofie,Van den Broeck,teaching,GO,basic,012345,9000,no,sofie@school.example.be\n' +
  'T2,Jan,Peeters,teaching,GO,basic,054321,2000,no,jan@school.example.be\n');

// A real SMTP server for "send me a new link" (tests/mail/smtp_sink.py, Debian's python3-aiosmtpd).
const mailDir = path.join(work, 'mail');
fs.mkdirSync(mailDir);
const sink = spawn('/usr/bin/python3', [new URL('../mail/smtp_sink.py', import.meta.url).pathname, '--dir', mailDir],
  { stdio: ['pipe', 'pipe', 'inherit'] });
const sinkPort = await new Promise((resolve, reject) => {
  sink.stdout.once('data', (d) => resolve(String(d).trim().split(' ')[1]));
  sink.once('exit', () => reject(new Error('smtp_sink.py did not start')));
});

// The real service on 127.0.0.1:0.
const base = await h.serve(
  `[server]\nlinks_per_hour = 3600\nlink_burst = 20\nclaim_burst = 50\n[smtp]\nurl = "smtp://127.0.0.1:${sinkPort}"\nstarttls = "off"\nfrom = "kaart@lerarenkaart.example.be"\n`);

const browser = await h.launch();
const sizes = [];
try {
  const first = await h.phonePage(browser, sizes);
  const { page, visit } = first;

  // 1. The mailed link (the code as a teacher might type it: lower case, without dashes).
  const mailed = codes.T1;
  await visit('home-nl', () => page.goto(`${base}/`));
  check(await page.$eval('html', (h) => h.lang) === 'nl', 'home is Dutch on a Flemish phone');
  check((await page.$$('script')).length === 0, 'no script elements');
  await visit('claim-nl', () => page.goto(`${base}/claim?code=${encodeURIComponent(mailed)}`));
  check(await page.$eval('#code', (i) => i.value) === mailed, 'the claim form is prefilled from the link');
  // A wrong code first: the form again, with what to do next.
  await page.$eval('#code', (i) => { i.value = 'ZZZZ-ZZZZ-ZZZZ-ZZZZ'; });
  let resp;
  await visit('claim-error-nl', async () => {
    [resp] = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  });
  check(resp.status() === 404, `a wrong code answers 404 with the form (got ${resp.status()})`);
  check((await page.$eval('[role=alert]', (e) => e.textContent)).includes('Deze code kennen we niet'), 'the wrong code is explained');
  await page.$eval('#code', (i, c) => { i.value = c.toLowerCase().replaceAll('-', ''); }, mailed);
  await visit('card-nl', async () => {
    [resp] = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  });
  check(new URL(page.url()).pathname === '/card', `claimed: on the card page (${page.url()})`);
  check((await page.$eval('#card-name', (e) => e.textContent)) === 'Sofie Van den Broeck', 'the card shows the name');
  check((await page.$$('a[href="/card/google"]')).length === 0, 'no Google button when Google is not configured');
  const cookies = await page.cookies();
  const session = cookies.find((c) => c.name === 'lk_session');
  check(session && session.httpOnly && session.sameSite === 'Lax', 'the session cookie is HttpOnly and SameSite=Lax');

  // 2. The QR code on the page carries the pass's token.
  const qrText = await cardQr(h, page, 'card-qr');

  // 3. The pass, through the Apple Wallet button: a plain link the browser downloads with the
  //    session cookie (no Authorization header a phone browser could not send).
  const passToken = await downloadApplePass(h, browser, first, 'card');
  check(passToken !== '' && passToken === qrText, 'the page\'s QR code holds the pass\'s token');

  // 4. Later: / shows the card again.
  await visit('home-signed-in', () => page.goto(`${base}/`));
  check(new URL(page.url()).pathname === '/card', 'coming back to / shows the card');

  // 5. Sign out.
  await visit('signed-out', async () => {
    await Promise.all([page.waitForNavigation(), page.click('form.signout button')]);
  });
  check(new URL(page.url()).pathname === '/', 'signed out: back on /');
  await page.goto(`${base}/card`);
  check(new URL(page.url()).pathname === '/', 'after signing out /card leads to /');
  await visit('not-found-nl', () => page.goto(`${base}/nope`));

  // 5b. A new phone: a fresh browser profile asks for a new link; the mail's link signs it in.
  const phone = await (await (browser.createBrowserContext || browser.createIncognitoBrowserContext).call(browser)).newPage();
  await phone.setViewport(PHONE);
  await phone.setJavaScriptEnabled(false);
  await phone.setExtraHTTPHeaders({ 'Accept-Language': 'nl-BE,nl;q=0.9' });
  await phone.goto(`${base}/`);
  await Promise.all([phone.waitForNavigation(), phone.click('a[href="/link"]')]);
  await phone.type('#email', 'Sofie@School.example.be');
  [resp] = await Promise.all([phone.waitForNavigation(), phone.click('button[type=submit]')]);
  check(resp.status() === 200 && (await phone.$eval('h1', (h) => h.textContent)) === 'Kijk in je mailbox', 'asked for a new link: check your mailbox');
  await h.shot(phone, 'link-sent-nl');
  let eml = '';
  for (let i = 0; i < 100 && !eml; i++) {
    await sleep(50);
    eml = fs.readdirSync(mailDir).find((f) => f.endsWith('.eml')) || '';
  }
  check(eml !== '', 'the sign-in mail arrived');
  const mailText = eml ? fs.readFileSync(path.join(mailDir, eml), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=') : '';
  const signinLink = (mailText.match(/http:\/\/127\.0\.0\.1:\d+\/link\/signin\?token=[0-9A-Z]{32}/) || [''])[0];
  check(signinLink.startsWith(base), `the mail holds the sign-in link (${signinLink})`);
  await phone.goto(signinLink);
  check((await phone.$$('form[action="/link/signin"] button')).length === 1, 'the link opens a page with a button, spending nothing');
  await h.shot(phone, 'signin-nl');
  await Promise.all([phone.waitForNavigation(), phone.click('form[action="/link/signin"] button')]);
  check(new URL(phone.url()).pathname === '/card', `the new phone is signed in (${phone.url()})`);
  check((await phone.$eval('#card-name', (e) => e.textContent)) === 'Sofie Van den Broeck', 'the new phone shows the card');
  await h.shot(phone, 'card-new-phone-nl');

  // 6. Accessibility: every page in every language (a fresh signed-in page for the card).
  const a11y = await browser.newPage();
  await a11y.setViewport(PHONE);
  await a11y.setBypassCSP(true);
  const t2 = codes.T2;
  for (const lang of ['nl', 'fr', 'en']) {
    const pages = [
      ['home', `${base}/?lang=${lang}`, null],
      ['claim', `${base}/claim?lang=${lang}`, null],
      ['claim-error', `${base}/claim?code=ZZZZ&lang=${lang}`, true],
      ['card', null, t2],
      ['not-found', `${base}/nope?lang=${lang}`, null],
      ['link', `${base}/link?lang=${lang}`, null],
      ['link-sent', `${base}/link?lang=${lang}`, 'nobody@school.example.be'],
      ['signin', `${base}/link/signin?token=ABCDEFGHJKMNPQRSTVWXYZ0123456789&lang=${lang}`, null],
      ['signin-error', `${base}/link/signin?token=ABCDEFGHJKMNPQRSTVWXYZ0123456789&lang=${lang}`, true],
    ];
    for (const [name, url, extra] of pages) {
      if (name === 'card') {
        await a11y.goto(`${base}/claim?code=${encodeURIComponent(extra)}&lang=${lang}`);
        await Promise.all([a11y.waitForNavigation(), a11y.click('button[type=submit]')]);
      } else {
        await a11y.goto(url);
        if (typeof extra === 'string') await a11y.type('#email', extra);
        if (extra) await Promise.all([a11y.waitForNavigation(), a11y.click('button[type=submit]')]);
      }
      check(await a11y.$eval('html', (h) => h.lang) === lang, `${name} (${lang}): <html lang="${lang}">`);
      if (name === 'signin-error' || name === 'link-sent') {  // the page meant, not a 429 or an error page
        const strings = fs.readFileSync(new URL(`../../web/strings/${lang}.strings`, import.meta.url), 'utf8');
        const key = name === 'signin-error' ? 'title.signin' : 'title.link_sent';
        const title = (strings.match(new RegExp(`^${key.replace('.', '\\.')} = (.*)$`, 'm')) || [])[1];
        check(title && (await a11y.title()).startsWith(title), `${name} (${lang}) is titled "${title}" (${await a11y.title()})`);
        if (name === 'signin-error') check((await a11y.$$('[role=alert]')).length === 1, `${name} (${lang}) says what went wrong`);
      }
      await h.axe(a11y, `${name} (${lang})`);
      if (lang !== 'nl' || name === 'card') await h.shot(a11y, `${name}-${lang}`);
    }
    // Sign the card's device out again for the next language's claim.
    await a11y.deleteCookie({ name: 'lk_session', url: base });
  }
} finally {
  await browser.close();
  h.stop();
  sink.stdin.end();
}
fs.writeFileSync(path.join(artifacts, 'sizes.json'), JSON.stringify(sizes, null, 1) + '\n');
h.finish('screenshots and sizes');
