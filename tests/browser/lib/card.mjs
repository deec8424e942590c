// The teacher's card as the browser tests see it: the QR code on the card page (decoded with
// zbarimg) and the Apple Wallet pass behind the card's button (downloaded by Chromium, then
// checked: its type, a zip with pass.json, manifest.json and a signature OpenSSL verifies).
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sleep } from './harness.mjs';

// Saves the card page's QR code as ARTIFACT_DIR/name.png and returns what it encodes ('' when
// zbarimg reads nothing).
export async function cardQr(h, page, name) {
  const png = path.join(h.artifacts, `${name}.png`);
  await (await page.$('svg.qr')).screenshot({ path: png });
  try {
    return execFileSync('zbarimg', ['--quiet', '--raw', png], { encoding: 'utf8' }).trim();
  } catch (e) {
    return '';
  }
}
// Clicks "Add to Apple Wallet" on `state` (a Harness.phonePage of `browser`), checks the
// downloaded pass (kept as ARTIFACT_DIR/name.pkpass) and returns its barcode message.
export async function downloadApplePass(h, browser, state, name) {
  const downloads = fs.mkdtempSync(path.join(h.work, 'downloads-'));
  const bcdp = await browser.target().createCDPSession();
  await bcdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
  let passResponse = null;
  const onResponse = (e) => { if (e.response.url.endsWith('/card/pass.pkpass')) passResponse = e.response; };
  state.cdp.on('Network.responseReceived', onResponse);
  h.check(await state.page.$eval('a.wallet.apple', (a) => a.getAttribute('href')) === '/card/pass.pkpass',
    `${name}: the Apple Wallet button is a plain link`);
  await state.page.click('a.wallet.apple');
  let file = '';
  for (let i = 0; i < 200 && !file; i++) {
    await sleep(50);
    file = fs.readdirSync(downloads).find((f) => f.endsWith('.pkpass')) || '';
  }
  state.cdp.off('Network.responseReceived', onResponse);
  h.check(file !== '', `${name}: the pass downloads (${file})`);
  if (!file) return '';
  const headers = Object.fromEntries(Object.entries(passResponse ? passResponse.headers : {}).map(([k, v]) => [k.toLowerCase(), v]));
  h.check(passResponse && passResponse.status === 200 && headers['content-type'] === 'application/vnd.apple.pkpass',
    `${name}: the pass is application/vnd.apple.pkpass (${passResponse && passResponse.status} ${headers['content-type']})`);
  h.check((headers['content-disposition'] || '').startsWith('attachment'), `${name}: the pass is an attachment`);
  const pkpass = path.join(h.artifacts, `${name}.pkpass`);
  fs.copyFileSync(path.join(downloads, file), pkpass);
  const listing = execFileSync('unzip', ['-Z1', pkpass], { encoding: 'utf8' }).split('\n');
  h.check(['pass.json', 'manifest.json', 'signature'].every((f) => listing.includes(f)),
    `${name}: the pass is a zip with pass.json, manifest.json and signature`);
  const passBytes = execFileSync('unzip', ['-p', pkpass, 'pass.json']);
  const passJson = JSON.parse(passBytes.toString('utf8'));
  const manifest = JSON.parse(execFileSync('unzip', ['-p', pkpass, 'manifest.json'], { encoding: 'utf8' }));
  h.check(manifest['pass.json'] === crypto.createHash('sha1').update(passBytes).digest('hex'),
    `${name}: manifest.json has pass.json's SHA-1`);
  // The signature is a detached PKCS#7 over manifest.json that OpenSSL accepts as such.
  fs.writeFileSync(path.join(h.work, 'manifest.json'), execFileSync('unzip', ['-p', pkpass, 'manifest.json']));
  fs.writeFileSync(path.join(h.work, 'signature'), execFileSync('unzip', ['-p', pkpass, 'signature']));
  let signed = false;
  try {
    execFileSync('openssl', ['smime', '-verify', '-noverify', '-binary', '-inform', 'DER', '-in', path.join(h.work, 'signature'),
      '-content', path.join(h.work, 'manifest.json'), '-out', '/dev/null'], { stdio: 'ignore' });
    signed = true;
  } catch (e) { /* checked below */ }
  h.check(signed, `${name}: the signature verifies over manifest.json (openssl smime -verify -noverify)`);
  return passJson.barcodes ? passJson.barcodes[0].message : '';
}
