"""Independent JWT checks with PyJWT (Debian's python3-jwt; run with /usr/bin/python3).

  verify JWKS_FILE TOKEN ISSUER      verify an ES256 token given only the published JWK Set
  sign PEM_FILE KID CLAIMS [low-s]   sign claims with ES256; 'low-s' normalises s to n - s when high
  verify-rs256 PUBLIC_PEM TOKEN      verify an RS256 token (Google save links, OAuth assertions)
  verify-revocations JWKS_FILE LIST ISSUER
                                     verify a signed revocation list with the JWK of its kid, which
                                     must have "use":"lk-revocations"; typ must be lk-revocations+jwt
Prints the verified claims as JSON, or the error on stderr with exit code 1.
"""
import base64
import json
import sys

import jwt
from jwt.algorithms import ECAlgorithm

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def main(argv):
    cmd = argv[1]
    if cmd == "verify":
        jwks = json.load(open(argv[2]))
        token, issuer = argv[3], argv[4]
        kid = jwt.get_unverified_header(token)["kid"]
        matches = [k for k in jwks["keys"] if k.get("kid") == kid]
        if not matches:
            raise SystemExit("no key with kid %s" % kid)
        key = ECAlgorithm.from_jwk(json.dumps(matches[0]))
        claims = jwt.decode(token, key, algorithms=["ES256"], issuer=issuer,
                            options={"require": ["exp", "nbf", "iss", "sub"]})
        print(json.dumps(claims, sort_keys=True))
    elif cmd == "sign":
        pem = open(argv[2]).read()
        claims = json.loads(argv[4])
        token = jwt.encode(claims, pem, algorithm="ES256", headers={"kid": argv[3]})
        if len(argv) > 5 and argv[5] == "low-s":
            head, body, sig = token.split(".")
            raw = b64d(sig)
            r, s = raw[:32], int.from_bytes(raw[32:], "big")
            if s > N // 2:
                s = N - s
            token = ".".join([head, body, b64e(r + s.to_bytes(32, "big"))])
        print(token)
    elif cmd == "verify-revocations":
        jwks = json.load(open(argv[2]))
        doc, issuer = argv[3], argv[4]
        header = jwt.get_unverified_header(doc)
        if header.get("typ") != "lk-revocations+jwt":
            raise SystemExit("typ is %r" % header.get("typ"))
        matches = [k for k in jwks["keys"] if k.get("kid") == header["kid"] and k.get("use") == "lk-revocations"]
        if not matches:
            raise SystemExit("no revocation-list key with kid %s" % header["kid"])
        key = ECAlgorithm.from_jwk(json.dumps(matches[0]))
        claims = jwt.decode(doc, key, algorithms=["ES256"], issuer=issuer,
                            options={"require": ["exp", "iat", "iss"]})
        print(json.dumps(claims, sort_keys=True))
    elif cmd == "verify-rs256":
        pem = open(argv[2]).read()
        claims = jwt.decode(argv[3], pem, algorithms=["RS256"], options={"verify_aud": False})
        print(json.dumps(claims, sort_keys=True))
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except jwt.PyJWTError as e:
        print("%s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
