#!/usr/bin/env bash
# Measures `lerarenkaart token verify --batch` on N distinct tokens (default 20,000) against
# `openssl speed -multi 2 ecdsap256` run just before, on the same machine.
#   tests/bench/verify_batch.sh [BUILD_DIR] [N]
set -euo pipefail
build=${1:-build}; n=${2:-20000}
bin=$(realpath "$build/app/lerarenkaart")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
"$bin" --data-dir "$work" keys init >/dev/null
kid=$(ls "$work/keys/token" | sed 's/\.pem$//')
year=$(date -u +%Y)
# Distinct tokens, signed with the keyring's key by PyJWT (low-s normalised like ours).
/usr/bin/python3 - "$work/keys/token/$kid.pem" "$kid" "$year" "$n" >"$work/tokens.txt" <<'PY'
import base64, calendar, sys, jwt
pem, kid, year, n = open(sys.argv[1]).read(), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
nbf = calendar.timegm((year - 1, 12, 31, 23, 0, 0)); exp = calendar.timegm((year + 1, 1, 31, 23, 0, 0))
for i in range(n):
    t = jwt.encode({"iss": "https://lerarenkaart.be", "sub": "B%011d" % i, "y": year, "nbf": nbf, "exp": exp},
                   pem, algorithm="ES256", headers={"kid": kid})
    h, b, s = t.split(".")
    raw = base64.urlsafe_b64decode(s + "==")
    r, sv = raw[:32], int.from_bytes(raw[32:], "big")
    if sv > N // 2: sv = N - sv
    print(h + "." + b + "." + base64.urlsafe_b64encode(r + sv.to_bytes(32, "big")).rstrip(b"=").decode())
PY
echo "openssl speed -multi 2 ecdsap256 (verify/s, both cores):"
openssl speed -elapsed -seconds 3 -multi 2 ecdsap256 2>/dev/null | awk '/256 bits ecdsa/ {print "  " $NF}'
echo "lerarenkaart token verify --batch ($n tokens):"
/usr/bin/time -f "  wall %e s, user %U s, sys %S s, cpu %P, max rss %M KiB" \
  "$bin" --data-dir "$work" token verify --batch "$work/tokens.txt" >"$work/verdicts.txt"
valid=$(grep -c '"valid":true' "$work/verdicts.txt" || true)
echo "  valid verdicts: $valid of $n"
