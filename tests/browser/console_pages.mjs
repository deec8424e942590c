// The staff console in headless Debian Chromium at a desk's viewport (1280x1600), JavaScript
// off (every page works without it): sign in with a staff key, change every control of the
// adoption view, download its CSV and XLSX, look a card up, revoke it and see the audit entry,
// sign out. Then axe-core checks WCAG 2.1 A and AA on every console page in nl, fr and en.
// Screenshots go to ARTIFACT_DIR.
// Usage: node console_pages.mjs LERARENKAART_BINARY ARTIFACT_DIR PUBLISHED_CSV
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Harness, DESK } from './lib/harness.mjs';

const h = new Harness('console_pages.mjs', ['PUBLISHED_CSV'], 'lk-console-');
const { artifacts, work, year } = h;
const [published] = h.params;
const check = h.check.bind(h);
const cli = (...args) => h.cli(...args);

// A ledger as staff would make it: the published 2017-2019 figures, this year's roster of four
// with claim codes, subscriptions for two, and a staff key.
const roster =
  'staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n' +
  'T1,Sofie,Van den Broeck,teaching,GO,basic,012345,9000,no\n' +
  'T2,Jan,Peeters,teaching,VGO,secondary,054321,2000,no\n' +
  'T3,Ann,Claes,support,OGO,basic,054322,3500,no\n' +
  'T4,Luc,Maes,administrative,GO,higher,054323,8000,no\n';
cli('import', 'published', published);
const codes = h.importRoster(roster);
fs.writeFileSync(path.join(work, 'subscriptions.csv'), `staff_id,date\nT2,${year}-03-01\nT3,${year}-03-01\n`);
cli('import', 'subscriptions', path.join(work, 'subscriptions.csv'), '--year', String(year));
const secret = cli('staff', 'add', 'Analist AgODi').trim();

const base = await h.serve();
const browser = await h.launch();
try {
  const page = await browser.newPage();
  await page.setViewport(DESK);
  await page.setJavaScriptEnabled(false);
  await page.setExtraHTTPHeaders({ 'Accept-Language': 'nl-BE,nl;q=0.9,en;q=0.5' });
  h.stayOnService(page);
  const shot = (name) => h.shot(page, name, { fullPage: true });
  const submit = (selector) => Promise.all([page.waitForNavigation(), page.click(selector)]);
  const text = (selector) => page.$eval(selector, (e) => e.textContent);

  // 0. A teacher claims T1's digital card (the card staff will look up).
  await page.goto(`${base}/claim?code=${encodeURIComponent(codes.T1)}`);
  await submit('button[type=submit]');
  check(new URL(page.url()).pathname === '/card', 'T1 claimed a digital card');

  // 1. The old dashboard address leads to the console's sign-in form.
  await page.goto(`${base}/dashboard`);
  check(new URL(page.url()).pathname === '/console', '/dashboard leads to /console');
  await shot('console-signin-nl');
  check(await page.$eval('html', (h) => h.lang) === 'nl', 'the console is Dutch by default');
  await page.type('#credential', 'lks_not-a-key');
  let [resp] = await submit('form.console-form button');
  check(resp.status() === 401, `a wrong key answers 401 (got ${resp.status()})`);
  check((await text('[role=alert]')).includes('Deze sleutel kennen we niet'), 'the wrong key is explained in a sentence');
  await shot('console-signin-error-nl');
  await page.type('#credential', secret);
  await submit('form.console-form button');
  check(new URL(page.url()).pathname === '/console', 'signed in: on /console');
  const session = (await page.cookies()).find((c) => c.name === 'lk_console');
  check(session && session.httpOnly && session.sameSite === 'Strict' && !session.value.includes(secret),
    'the console cookie is HttpOnly, SameSite=Strict, and holds no secret');
  check(!(await page.cookies()).some((c) => c.name === 'lk_staff'), 'no lk_staff cookie');
  check((await text('h1')).includes('Gebruik van de Lerarenkaart'), 'the adoption view is shown');
  check((await page.$$('svg.chart rect')).length >= 4, 'the chart has bars (2017-2019 and this year)');
  await shot('console-adoption-nl');

  // 2. Every control: period, years, grouping, channel.
  const labels = await page.$$eval('svg.chart text', (ts) => ts.map((t) => t.textContent));
  check(labels.includes('2017') && labels.includes('2020') && labels.includes(String(year)),
    `the time axis has every year, gaps included (${labels.slice(0, 8).join(' ')} ...)`);
  await page.click('input[name=period][value=school]');
  await page.select('#by', 'level');
  await page.select('#channel', 'subscription');
  await page.$eval('#from', (i, y) => { i.value = String(y - 1); }, year);
  await page.$eval('#to', (i, y) => { i.value = String(y); }, year);
  await submit('form.controls button');
  const q = new URL(page.url()).searchParams;
  check(q.get('period') === 'school' && q.get('by') === 'level' && q.get('channel') === 'subscription' &&
        q.get('from') === String(year - 1) && q.get('to') === String(year), `the controls are in the address (${page.url()})`);
  const cells = await page.$$eval('table.report td', (tds) => tds.map((t) => t.textContent));
  check(cells.includes('basisonderwijs') && cells.includes('secundair onderwijs'), 'group values in Dutch (basisonderwijs)');
  check((await page.$eval('#channel', (s) => s.value)) === 'subscription', 'the chosen channel stays selected');
  check((await text('svg.chart title')).includes('abonnement'), 'the chart shows the chosen channel');
  await shot('console-adoption-school-level-nl');
  for (const by of ['province', 'network', 'role', 'none']) {
    await page.select('#by', by);
    await page.click('input[name=period][value=calendar]');
    await page.select('#channel', by === 'none' ? 'all' : 'digital');
    await page.$eval('#from', (i) => { i.value = ''; });
    await page.$eval('#to', (i) => { i.value = ''; });
    [resp] = await submit('form.controls button');
    check(resp.status() === 200, `grouping ${by}: 200`);
  }
  const rows = await page.$$eval('table.report tbody tr', (trs) => trs.map((t) => t.textContent));
  check(rows.some((r) => r.includes('gepubliceerd')) && rows.some((r) => r.includes('kaarten')),
    'published totals and ledger years on one page');
  await page.select('#by', 'province');
  await submit('form.controls button');
  const provinces = await page.$$eval('table.report tbody td', (tds) => tds.map((t) => t.textContent));
  check(provinces.includes('Oost-Vlaanderen') && !provinces.includes('Luik'), 'provinces without anyone are hidden');
  const tiles = await page.$$eval('svg.map text', (ts) => ts.map((t) => t.textContent));
  check(tiles.length === 22 && tiles.includes('Oost-Vlaanderen') && tiles.includes('Luik'),
    `by province: a map of the 11 provinces (${tiles.slice(0, 4).join(' ')} ...)`);
  const fits = await page.$eval('.table-box', (b) => b.scrollWidth <= b.clientWidth);
  check(fits, 'at 1280 px the province table with every channel fits without scrolling');
  const notes = await text('ol.notes');
  check(!/published|printed|itemised|per-card/.test(notes) && notes.includes('gepubliceerde totalen'),
    'the notes are Dutch on a Dutch page');
  await shot('console-adoption-province-nl');
  // A bad value typed into the address: a page with a sentence.
  resp = await page.goto(`${base}/console?period=weekly`);
  check(resp.status() === 400 && (await text('[role=alert]')).includes('kalenderjaar of schooljaar'), 'a bad period is a sentence');
  await page.goto(`${base}/console?by=level`);

  // 3. Downloads of the same selection.
  const downloads = path.join(work, 'downloads');
  fs.mkdirSync(downloads);
  const bcdp = await browser.target().createCDPSession();
  await bcdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
  for (const ext of ['csv', 'xlsx']) {
    const href = await page.$eval(`a[href^="/console/adoption.${ext}"]`, (a) => a.getAttribute('href'));
    check(href.includes('by=level'), `the ${ext} link carries the selection (${href})`);
    await page.click(`a[href^="/console/adoption.${ext}"]`);
    let file = '';
    for (let i = 0; i < 200 && !file; i++) {
      await new Promise((r) => setTimeout(r, 50));
      file = fs.readdirSync(downloads).find((f) => f.endsWith(`.${ext}`)) || '';
    }
    check(file === `adoptie.${ext}`, `the ${ext} downloads (${file})`);
    if (!file) continue;
    const bytes = fs.readFileSync(path.join(downloads, file));
    fs.copyFileSync(path.join(downloads, file), path.join(artifacts, file));
    if (ext === 'csv') check(bytes.toString('utf8').includes('basic'), 'the CSV holds the level rows');
    else check(bytes.subarray(0, 2).toString() === 'PK' &&
               execFileSync('unzip', ['-Z1', path.join(downloads, file)], { encoding: 'utf8' }).includes('xl/workbook.xml'),
               'the XLSX is a workbook');
  }

  // 4. Look T1 up by staff id (T4 has no card: none is made), open the card, revoke it.
  await page.goto(`${base}/console/cards`);
  await page.type('#q', 'T4');
  [resp] = await submit('form.controls button');
  check(resp.status() === 404 && (await text('[role=status]')).includes('Geen kaart gevonden'), 'T4 has no card, and none is made');
  await page.$eval('#q', (i) => { i.value = ''; });
  await page.type('#q', 'T1');
  await submit('form.controls button');
  const found = await page.$$eval('table.report tbody th a', (as) => as.map((a) => a.textContent));
  check(found.length === 1, `T1 has one card (${found.join(', ')})`);
  const claim = await page.$$eval('form[action="/console/claim-codes"] input:not([type=hidden])', (is) => is.map((i) => i.value));
  check(claim.join('|') === `T1|Sofie|Van den Broeck|${year}`, `the claim-code form is filled in for T1 (${claim.join('|')})`);
  await shot('console-cards-found-nl');
  await submit('table.report tbody th a');
  check((await page.$$('form[action="/console/cards/revoke"]')).length === 1, 'the card page has a revoke form');
  await page.type('#reason', 'Toestel verloren');
  await submit('form[action="/console/cards/revoke"] button');
  check((await text('[role=status]')).includes('De kaart is ingetrokken'), 'revoked, and told so');
  const trail = await page.$$eval('table.audit tbody tr', (trs) => trs.map((t) => t.textContent));
  check(trail.some((t) => t.includes('kaart ingetrokken') && t.includes('Reden: Toestel verloren')), `the audit trail shows the revocation (${trail.length} entries)`);
  check(trail.every((t) => !t.includes('{') && !t.includes('"')), 'audit details are label: value pairs, not JSON');
  check((await page.$$('form[action="/console/cards/revoke"]')).length === 0, 'a revoked card has no revoke form');
  await shot('console-card-revoked-nl');

  // 5. A new claim code for T4 (the form holds the card found: clear it first).
  for (const id of ['#staff_id', '#first_name', '#last_name']) await page.$eval(id, (i) => { i.value = ''; });
  await page.type('#staff_id', 'T4');
  await page.type('#first_name', 'Luc');
  await page.type('#last_name', 'Maes');
  await submit('form[action="/console/claim-codes"] button');
  check(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/.test((await text('.notice .code')).trim()), 'a new claim code is shown');
  await shot('console-claim-code-nl');

  // 6. An import from the browser: a file with bad rows (nothing imported, the rows as a table),
  //    then the corrected file. Then the ledger's state and the keys without secrets.
  await page.goto(`${base}/console/system`);
  const starters = path.join(work, 'starters.csv');
  fs.writeFileSync(starters, `staff_id,date\nT4,${year}-03-01\nNOBODY,${year}-03-01\nT1,yesterday\n`);
  await page.select('#kind', 'starters');
  await (await page.$('#file')).uploadFile(starters);
  [resp] = await submit('form[action="/console/imports"] button');
  const bad = await page.$$eval('[aria-labelledby=import-caption] tbody tr', (trs) => trs.map((t) => t.textContent));
  check(resp.status() === 400 && bad.length === 2, `a file with two bad rows: 400 and a table of them (${bad.join(' | ')})`);
  check(bad[0].startsWith('31 (staff_id)Dit personeelslid staat niet op de personeelslijst van kaartjaar') &&
          bad[1].startsWith("42 (date)'yesterday' is geen datum."),
        `the bad rows say in Dutch what to fix, with line and column (${bad.join(' | ')})`);
  check((await text('[role=alert]')).includes('starters.csv: 2 foute rijen; er werd niets ingelezen.'),
        'the summary is Dutch too');
  await shot('console-import-errors-nl');
  fs.writeFileSync(starters, `staff_id,date\nT4,${year}-03-01\n`);
  await page.select('#kind', 'starters');
  await (await page.$('#file')).uploadFile(starters);
  [resp] = await submit('form[action="/console/imports"] button');
  check(resp.status() === 200 && (await text('[role=status]')).includes('Ingelezen'), 'the corrected file is imported');
  await submit('form[action="/console/system"] button');
  check((await text('[role=status]')).includes('Het grootboek klopt'), 'ledger verify: sound');
  check((await page.$$('[role=alert]')).length === 0, 'no alert after a sound check');
  const body = await page.content();
  check(body.includes('Analist AgODi') && !body.includes(secret), 'the keys are listed by name, never the secret');
  await shot('console-system-nl');

  // 7. Accessibility of every console page in every language (JavaScript on for axe only).
  const a11y = await browser.newPage();
  await a11y.setViewport(DESK);
  await a11y.setBypassCSP(true);
  await a11y.goto(`${base}/console`);  // signed in already: the same browser context as `page`
  check((await a11y.$$('#credential')).length === 0, 'a second tab of the same browser is signed in');
  for (const lang of ['nl', 'fr', 'en']) {
    const pages = [
      ['adoption', `/console?by=level&lang=${lang}`],
      ['adoption-school', `/console?period=school&by=province&channel=digital&lang=${lang}`],
      ['adoption-error', `/console?period=weekly&lang=${lang}`],
      ['cards', `/console/cards?q=T1&lang=${lang}`],
      ['cards-none', `/console/cards?q=T4&lang=${lang}`],
      ['system', `/console/system?verify=1&lang=${lang}`],
    ];
    for (const [name, url] of pages) {
      await a11y.goto(base + url);
      if (name === 'cards') await Promise.all([a11y.waitForNavigation(), a11y.click('table.report tbody th a')]);
      check(await a11y.$eval('html', (h) => h.lang) === lang, `${name} (${lang}): <html lang="${lang}">`);
      await h.axe(a11y, `${name} (${lang})`);
      if (lang !== 'nl') await h.shot(a11y, `console-${name}-${lang}`, { fullPage: true });
    }
  }
  // The sign-in form itself, signed out, in each language.
  const out = await browser.createBrowserContext();
  const signin = await out.newPage();
  await signin.setViewport(DESK);
  await signin.setBypassCSP(true);
  for (const lang of ['nl', 'fr', 'en']) {
    await signin.goto(`${base}/console?lang=${lang}`);
    await h.axe(signin, `signin (${lang})`);
  }

  // 8. Sign out: the console is closed again.
  await a11y.close();
  await out.close();
  await page.bringToFront();
  await page.goto(`${base}/console?lang=nl`);
  await submit('form.console-signout button');
  check((await page.$$('#credential')).length === 1, 'signed out: the sign-in form again');
  resp = await page.goto(`${base}/console/cards?q=T1`);
  check(new URL(page.url()).pathname === '/console' && (await page.$$('#credential')).length === 1,
    'after signing out the cards page leads to the sign-in form');
} finally {
  await browser.close();
  h.stop();
}
h.finish();
