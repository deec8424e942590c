#!/usr/bin/python3
"""Soak test: mixed traffic against one `lerarenkaart serve` for a while, watching for leaks.

    tests/bench/soak.py [--build build] [--seconds 600] [--clients 8]

Sets up a data directory (a roster of 3,000 teachers with claim codes, a staff token, a partner
key), starts the service, and runs `--clients` threads of mixed traffic, each request with the
answers it may get: claims (fresh codes, used codes, unknown codes), Apple pass downloads (and
revalidations), partner verifies (active, revoked, forged), staff issues and revocations,
reports in every format, imports, the public documents, and junk (malformed heads, smuggling
shapes, oversized and compressed bodies, stalled and half-closed connections). Every 10 seconds
it samples the server's RSS and open file descriptors.

Fails (exit 1) when any answer was not one its request may get, when the server died, or when
RSS or descriptors grew after the warm-up (the first fifth of the run): RSS by more than 8 MiB
or 10 %, descriptors by more than 16. Prints a table of samples and counts per request kind.
"""
import argparse
import collections
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--build", default="build")
ap.add_argument("--seconds", type=int, default=600)
ap.add_argument("--clients", type=int, default=8)
args = ap.parse_args()

binary = os.path.realpath(os.path.join(args.build, "app", "lerarenkaart"))
work = tempfile.mkdtemp(prefix="lk-soak.")
year = int(subprocess.run(["date", "+%Y"], env={"TZ": "Europe/Brussels"}, capture_output=True, text=True).stdout)
config = os.path.join(work, "config.toml")
with open(config, "w") as f:
    f.write("[server]\nrate_per_address = 0\nrate_per_key = 0\nclaims_per_minute = 0\naccess_log = false\n"
            "max_connections_per_address = 1000\nmax_json_bytes = 4096\nmax_import_bytes = 1000000\n"
            "read_timeout_seconds = 3\n")


def lk(*a, check=True):
    r = subprocess.run([binary, "--data-dir", os.path.join(work, "var"), "--config", config, *a],
                       capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"soak: lerarenkaart {' '.join(a)} failed: {r.stderr}")
    return r.stdout.strip()


N = 3000
roster = os.path.join(work, "roster.csv")
with open(roster, "w") as f:
    f.write("staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n")
    for i in range(N):
        f.write(f"S{i},Voor{i},Naam,teaching,GO,basic,{10000 + i % 50},{1000 + (i * 37) % 9000},no\n")
lk("keys", "init")
lk("import", "roster", roster, "--year", str(year), "--claim-codes", os.path.join(work, "codes.csv"))
codes = [line.strip().split(",")[1] for line in open(os.path.join(work, "codes.csv")).readlines()[1:]]
staff = lk("staff", "add", "soak")
partner = lk("partners", "add", "soak")

server = subprocess.Popen([binary, "--data-dir", os.path.join(work, "var"), "--config", config, "serve", "--listen",
                           "127.0.0.1:0", "--port-file", os.path.join(work, "port")],
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "serve.log"), "w"))
for _ in range(200):
    if os.path.exists(os.path.join(work, "port")) and open(os.path.join(work, "port")).read().strip():
        break
    time.sleep(0.05)
port = int(open(os.path.join(work, "port")).read())

lock = threading.Lock()
counts = collections.Counter()      # (kind, status) -> n
unexpected = []                     # (kind, status, detail)
cards = []                          # (serial, token, access_token, revoked)
code_pool = list(codes)
random.shuffle(code_pool)
deadline = time.monotonic() + args.seconds


def note(kind, status, allowed, detail=""):
    with lock:
        counts[(kind, status)] += 1
        if status not in allowed and len(unexpected) < 50:
            unexpected.append((kind, status, detail[:300]))


def request(conn, method, path, body=None, headers=None):
    # A keep-alive connection the service closed while idle (its keep-alive timeout) fails on
    # reuse before the request was taken: reconnect and send it once more, as browsers do.
    for attempt in (0, 1):
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.read(), r
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            conn.close()
            if attempt:
                raise


def raw(data, read=True, half_close=True, timeout=5):
    """Sends bytes on a fresh socket; returns the status of the first answer (0 if none)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        if half_close:
            s.shutdown(socket.SHUT_WR)
        if not read:
            return 0
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            got += chunk
        return int(got[9:12]) if got.startswith(b"HTTP/1.1 ") else 0
    finally:
        s.close()


def client(seed):
    rnd = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    auth_staff = {"Authorization": "Bearer " + staff, "Content-Type": "application/json"}
    auth_partner = {"Authorization": "Bearer " + partner, "Content-Type": "application/json"}
    while time.monotonic() < deadline:
        kind = rnd.choices(["claim", "claim_used", "claim_unknown", "pass", "verify", "verify_forged", "issue",
                            "revoke", "report", "import", "public", "junk"],
                           weights=[4, 1, 2, 6, 30, 3, 2, 1, 2, 1, 6, 4])[0]
        try:
            if kind in ("claim", "claim_used"):
                with lock:
                    code = code_pool.pop() if kind == "claim" and code_pool else (codes[rnd.randrange(len(codes))])
                st, body, _ = request(conn, "POST", "/v1/claims", json.dumps({"claim_code": code}),
                                      {"Content-Type": "application/json"})
                note(kind, st, {200, 201, 410}, body.decode(errors="replace"))
                if st in (200, 201):
                    c = json.loads(body)
                    with lock:
                        cards.append([c["serial"], c["token"], c["access_token"], False])
            elif kind == "claim_unknown":
                st, body, _ = request(conn, "POST", "/v1/claims", '{"claim_code":"AAAA-BBBB-CCCC-DDDD"}',
                                      {"Content-Type": "application/json"})
                note(kind, st, {404}, body.decode(errors="replace"))
            elif kind == "pass":
                with lock:
                    card = rnd.choice(cards) if cards else None
                if not card:
                    continue
                st, body, r = request(conn, "GET", f"/v1/cards/{card[0]}/pass.pkpass", None,
                                      {"Authorization": "Bearer " + card[2]})
                note(kind, st, {200}, body[:200].decode(errors="replace"))
                etag = r.getheader("ETag")
                if etag:
                    st, body, _ = request(conn, "GET", f"/v1/cards/{card[0]}/pass.pkpass", None,
                                          {"Authorization": "Bearer " + card[2], "If-None-Match": etag})
                    note("pass_revalidate", st, {304, 200}, body[:200].decode(errors="replace"))
            elif kind in ("verify", "verify_forged"):
                with lock:
                    card = rnd.choice(cards) if cards else None
                if not card:
                    continue
                token = card[1] if kind == "verify" else card[1][:-4] + "AAAA"
                st, body, _ = request(conn, "POST", "/v1/verify", json.dumps({"token": token}), auth_partner)
                note(kind, st, {200}, body.decode(errors="replace"))
                if st == 200:
                    v = json.loads(body)
                    want = ("revoked" if card[3] else "active") if kind == "verify" else "invalid"
                    # A card revoked by another client thread a moment ago may still read active.
                    if v["status"] != want and not (kind == "verify" and v["status"] == "revoked"):
                        note(kind + "_verdict", v["status"], {want})
            elif kind == "issue":
                st, body, _ = request(conn, "POST", "/v1/cards", json.dumps({"staff_id": f"S{rnd.randrange(N)}"}),
                                      auth_staff)
                note(kind, st, {200, 201}, body.decode(errors="replace"))
            elif kind == "revoke":
                with lock:
                    live = [c for c in cards if not c[3]]
                    card = rnd.choice(live) if len(live) > 50 else None
                if not card:
                    continue
                st, body, _ = request(conn, "POST", f"/v1/cards/{card[0]}/revoke", '{"reason":"soak"}', auth_staff)
                note(kind, st, {200, 409}, body.decode(errors="replace"))  # 409: another thread revoked it first
                with lock:
                    card[3] = True
            elif kind == "report":
                fmt = rnd.choice(["json", "csv", "table", "html"])
                by = rnd.choice(["none", "province", "network", "role", "level"])
                period = rnd.choice(["calendar", "school"])
                st, body, _ = request(conn, "GET", f"/v1/reports/adoption?format={fmt}&by={by}&period={period}",
                                      None, auth_staff)
                note(kind, st, {200, 503}, body[:200].decode(errors="replace"))
            elif kind == "import":
                rows = "".join(f"S{i},{year}-0{rnd.randrange(1, 9)}-1{rnd.randrange(10)}\n"
                               for i in rnd.sample(range(N), 200))
                st, body, _ = request(conn, "POST", f"/v1/imports/subscriptions?year={year}",
                                      "staff_id,date\n" + rows,
                                      {"Authorization": "Bearer " + staff, "Content-Type": "text/csv"})
                note(kind, st, {200, 503}, body.decode(errors="replace"))
            elif kind == "public":
                path = rnd.choice(["/healthz", "/metrics", "/openapi.json", "/.well-known/jwks.json",
                                   "/v1/revocations", "/v1/nothing"])
                st, body, _ = request(conn, "GET", path)
                note(kind, st, {404} if path == "/v1/nothing" else {200}, body[:200].decode(errors="replace"))
            else:
                which = rnd.randrange(8)
                if which == 0:
                    note("junk_bad_method", raw(b"G\xffT / HTTP/1.1\r\nHost: x\r\n\r\n"), {400})
                elif which == 1:
                    note("junk_smuggle", raw(b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), {400})
                elif which == 2:
                    note("junk_big_length", raw(b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                                partner.encode() + b"\r\nContent-Length: 99999999\r\n\r\n"), {413})
                elif which == 3:
                    note("junk_gzip", raw(b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
                                          b"Content-Length: 20\r\n\r\n" + zlib.compress(b" " * 100000)[:20]), {415})
                elif which == 4:
                    note("junk_header_flood", raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 70000 +
                                                  b"\r\n\r\n"), {431})
                elif which == 5:
                    note("junk_half_head", raw(b"GET /heal"), {0})  # closed without an answer
                elif which == 6:
                    note("junk_bytes", raw(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200)))),
                         {0, 400, 405, 414, 431, 505})
                else:
                    # Announce a body and stall: the service must time the connection out (3 s).
                    s = socket.create_connection(("127.0.0.1", port), timeout=10)
                    s.sendall(b"POST /v1/claims HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
                    t0 = time.monotonic()
                    try:
                        closed = s.recv(1) == b""
                    except OSError:
                        closed = True
                    s.close()
                    note("junk_stall", "closed" if closed and time.monotonic() - t0 < 8 else "held", {"closed"})
        except (http.client.HTTPException, OSError) as e:
            note(kind, "transport:" + type(e).__name__, set(), str(e))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def sample():
    with open(f"/proc/{server.pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
    fds = len(os.listdir(f"/proc/{server.pid}/fd"))
    return rss, fds


threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
start = time.monotonic()
for t in threads:
    t.start()
samples = []
while time.monotonic() < deadline:
    time.sleep(min(10, max(0.1, deadline - time.monotonic())))
    if server.poll() is not None:
        break
    rss, fds = sample()
    total = sum(counts.values())
    samples.append((time.monotonic() - start, rss, fds, total))
    print(f"t={samples[-1][0]:6.0f}s  rss={rss / 1024:6.1f} MiB  fds={fds:4d}  requests={total}", flush=True)
for t in threads:
    t.join(timeout=40)

alive = server.poll() is None
failures = []
if not alive:
    failures.append(f"the server exited with {server.returncode}: " + open(os.path.join(work, "serve.log")).read()[-2000:])
else:
    # Idle again: what is left open must be the listening socket, the ledger and the like.
    time.sleep(6)
    rss_end, fds_end = sample()
    warm = [s for s in samples if s[0] >= args.seconds / 5]
    if warm:
        rss0, fds0 = warm[0][1], min(s[2] for s in warm)
        rss_max = max(s[1] for s in samples[samples.index(warm[0]):])
        print(f"after warm-up: rss {rss0 / 1024:.1f} MiB -> max {rss_max / 1024:.1f} MiB, end {rss_end / 1024:.1f} MiB; "
              f"fds at least {fds0} under load, {fds_end} when idle")
        if rss_end > rss0 + max(8 * 1024, rss0 // 10):
            failures.append(f"RSS grew from {rss0 / 1024:.1f} MiB to {rss_end / 1024:.1f} MiB")
        if fds_end > fds0 + 16:
            failures.append(f"open descriptors grew from {fds0} to {fds_end}")
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
print("requests by kind and answer:")
for (kind, status), n in sorted(counts.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
    print(f"  {kind:22s} {str(status):24s} {n}")
for kind, status, detail in unexpected:
    failures.append(f"unexpected answer to {kind}: {status} {detail}")
total = sum(counts.values())
print(f"{total} requests in {args.seconds} s ({total / max(1, args.seconds):.0f}/s), {len(unexpected)} unexpected answers")
if failures:
    print("SOAK FAILED:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("soak passed: no unexpected answer; RSS and open descriptors flat after the warm-up")
subprocess.run(["rm", "-rf", work])
