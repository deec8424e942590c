// The desk's service worker (docs/desk.md): keeps the desk page, its script and stylesheet,
// jsQR, the JWK Set and the signed revocation list, so that the page opens and verifies with the
// network gone. Network first (4 s), the kept copy otherwise. Each copy is stamped with when it
// was fetched (X-Lk-Fetched, ms), which the page shows as the age of its knowledge. It keeps no
// scans and no verdicts.
'use strict';
const CACHE = 'lk-desk-v1';
const KEPT = ['/desk', '/static/desk.js', '/static/site.css', '/static/jsqr.js', '/.well-known/jwks.json',
  '/v1/revocations'];

async function fetchAndKeep(cache, request, path) {
  const response = await fetch(request, { cache: 'no-store' });
  if (!response.ok) return response;  // an error answer is passed on, never kept
  const headers = new Headers(response.headers);
  headers.set('X-Lk-Fetched', String(Date.now()));
  const body = await response.arrayBuffer();
  const stamped = new Response(body, { status: response.status, statusText: response.statusText, headers });
  await cache.put(path, stamped.clone());
  return stamped;
}

function within(ms, promise) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), ms))]);
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await Promise.all(KEPT.map((path) =>
      fetchAndKeep(cache, new Request(path, { credentials: 'same-origin' }), path).catch(() => null)));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || !KEPT.includes(url.pathname)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      return await within(4000, fetchAndKeep(cache, event.request, url.pathname));
    } catch {
      const kept = await cache.match(url.pathname);
      return kept || Response.error();
    }
  })());
});
