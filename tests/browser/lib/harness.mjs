// What every browser test shares: its command line, a scratch directory, checks that count
// failures, the lerarenkaart CLI on the scratch data directory, the real service on 127.0.0.1:0,
// headless Debian Chromium with a fresh profile, axe-core's WCAG 2.1 A and AA run, screenshots
// into the artifact directory, a phone page that measures what each visit transfers, and the
// ending (the scratch directory removed, exit 1 when any check failed).
// One Harness per test process; nothing here is shared between processes.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const PHONE = { width: 390, height: 844 };
export const DESK = { width: 1280, height: 1600 };

export class Harness {
  // `script` names the test in the usage line; `params` names the arguments after
  // LERARENKAART_BINARY and ARTIFACT_DIR (all required); `prefix` names the scratch directory.
  constructor(script, params = [], prefix = 'lk-browser-') {
    const args = process.argv.slice(2);
    const names = ['LERARENKAART_BINARY', 'ARTIFACT_DIR', ...params];
    if (args.length < names.length || args.slice(0, names.length).some((a) => !a))
      throw new Error(`usage: node ${script} ${names.join(' ')}`);
    [this.binary, this.artifacts] = args;
    this.params = args.slice(2, names.length);
    fs.mkdirSync(this.artifacts, { recursive: true });
    this.work = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    this.data = path.join(this.work, 'var');
    this.year = new Date().getUTCFullYear();
    this.failures = 0;
    this.server = null;
  }

  check(ok, what) {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
    if (!ok) this.failures++;
  }

  // Runs the binary on data directory `dir` (default: the test's own) and returns its stdout.
  cli(...args) { return this.cliIn(this.data, ...args); }
  cliIn(dir, ...args) {
    return execFileSync(this.binary, ['--data-dir', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  // Imports `csv` (a roster file's text) for this year as staff would, with claim codes;
  // returns { staff_id: claim code }.
  importRoster(csv) {
    const roster = path.join(this.work, 'roster.csv'), codes = path.join(this.work, 'codes.csv');
    fs.writeFileSync(roster, csv);
    this.cli('import', 'roster', roster, '--year', String(this.year), '--claim-codes', codes);
    return Object.fromEntries(fs.readFileSync(codes, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')));
  }

  // Starts `serve --dev` on 127.0.0.1:0 (with `config`, a TOML file's text, when given) and
  // returns its base URL; stop() ends it.
  async serve(config = null) {
    const portFile = path.join(this.work, 'port'), log = path.join(this.work, 'serve.log');
    const args = ['--data-dir', this.data];
    if (config !== null) {
      fs.writeFileSync(path.join(this.work, 'lk.toml'), config);
      args.push('--config', path.join(this.work, 'lk.toml'));
    }
    args.push('serve', '--dev', '--listen', '127.0.0.1:0', '--port-file', portFile);
    this.server = spawn(this.binary, args, { stdio: ['ignore', 'ignore', fs.openSync(log, 'w')] });
    for (let i = 0; i < 300 && !fs.existsSync(portFile); i++) await sleep(50);
    if (!fs.existsSync(portFile)) throw new Error('the service did not start: ' + fs.readFileSync(log, 'utf8'));
    this.base = `http://127.0.0.1:${fs.readFileSync(portFile, 'utf8').trim()}`;
    return this.base;
  }

  // Headless Chromium with its profile in the scratch directory (`profile`; reusing a name keeps
  // cookies across launches), in `lang` (null: Chromium's default) and with `args` added.
  launch({ profile = 'chromium-profile', lang = 'nl-BE', args = [] } = {}) {
    return puppeteer.launch({
      executablePath: process.env.LK_CHROMIUM || '/usr/bin/chromium',
      headless: true,
      userDataDir: path.join(this.work, profile),
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
             '--disable-dev-shm-usage', ...(lang ? [`--lang=${lang}`] : []), ...args],
    });
  }

  // Fails the test on any request from `page` to another host than the service (`schemes`
  // such as data: stay allowed).
  stayOnService(page, schemes = ['data:']) {
    page.on('request', (req) => {
      const u = new URL(req.url());
      if (u.origin !== this.base && !schemes.includes(u.protocol)) this.check(false, `request to another host: ${req.url()}`);
    });
  }

  // Runs axe-core's WCAG 2.1 A and AA rules on `page` (its CSP bypassed, or JavaScript on) and
  // checks there are no violations.
  async axe(page, what) {
    await page.evaluate(axeSource);
    const result = await page.evaluate(() => window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
    const v = result.violations.map((x) => `${x.id}: ${x.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    this.check(v.length === 0, `axe WCAG 2.1 A/AA on ${what}${v.length ? ': ' + v.join('; ') : ''}`);
  }

  // Saves `page` (or an element) as ARTIFACT_DIR/name.png.
  shot(page, name, options = {}) {
    return page.screenshot({ path: path.join(this.artifacts, `${name}.png`), ...options });
  }

  // A phone's page in `browser`: 390x844, JavaScript off, no cache, a Flemish Accept-Language,
  // only requests to the service. Its visit(what, action) runs `action`, checks that the visit
  // transferred less than 30 KB, all to the service, pushes { page, bytes } onto `sizes`, saves a
  // screenshot named `what` and returns what `action` returned.
  async phonePage(browser, sizes) {
    const page = await browser.newPage();
    await page.setViewport(PHONE);
    await page.setJavaScriptEnabled(false);
    await page.setCacheEnabled(false);  // every page's size counts its stylesheet too
    await page.setExtraHTTPHeaders({ 'Accept-Language': 'nl-BE,nl;q=0.9,en;q=0.5' });  // a Flemish phone
    this.stayOnService(page);
    const cdp = await page.createCDPSession();
    await cdp.send('Network.enable');
    const state = { page, cdp, transferred: 0, requests: [] };
    cdp.on('Network.requestWillBeSent', (e) => state.requests.push(e.request.url));
    cdp.on('Network.loadingFinished', (e) => { state.transferred += e.encodedDataLength; });
    state.visit = async (what, action) => {
      state.transferred = 0;
      state.requests = [];
      const out = await action();
      await sleep(100);
      sizes.push({ page: what, bytes: state.transferred });
      this.check(state.transferred < 30 * 1024, `${what}: ${state.transferred} bytes transferred (< 30 KB)`);
      this.check(state.requests.every((u) => u.startsWith(this.base + '/')), `${what}: every request to ${this.base}`);
      await this.shot(page, what);
      return out;
    };
    return state;
  }

  // Ends the service (call in a finally).
  stop() {
    if (this.server) this.server.kill('SIGTERM');
  }

  // Removes the scratch directory, says where the artifacts are (`what`), and exits 1 when a
  // check failed.
  finish(what = 'screenshots') {
    this.stop();
    console.log(`${what} in ${this.artifacts}`);
    fs.rmSync(this.work, { recursive: true, force: true });
    if (this.failures) {
      console.log(`${this.failures} check(s) failed`);
      process.exit(1);
    }
    console.log('all checks passed');
  }
}
