#!/usr/bin/env bash
# make_certs.sh DIR: a throwaway PKI for the stand-in APNs, made with openssl.
#   ca.pem/ca-key.pem          the CA that issues both certificates below
#   server.pem/server-key.pem  the stand-in's certificate, for IP 127.0.0.1
#   client.pem/client-key.pem  stands in for the Pass Type ID certificate (RSA 2048, UID = topic)
#   other.pem/other-key.pem    a self-signed client certificate the stand-in does not trust
set -euo pipefail
d=$1
mkdir -p "$d"
cd "$d"
q() { "$@" 2>/dev/null; }
q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj "/CN=lerarenkaart test APNs CA"
q openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj "/CN=127.0.0.1"
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
q openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server.pem -days 2 -extfile server.ext
q openssl req -newkey rsa:2048 -nodes -keyout client-key.pem -out client.csr \
  -subj "/UID=pass.be.lerarenkaart.test/CN=Pass Type ID: pass.be.lerarenkaart.test/OU=TEAMID1234/O=lerarenkaart test"
printf 'extendedKeyUsage=clientAuth\n' >client.ext
q openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out client.pem -days 2 -extfile client.ext
q openssl req -x509 -newkey rsa:2048 -nodes -keyout other-key.pem -out other.pem -days 2 -subj "/CN=not trusted"
rm -f ./*.csr ./*.ext ./*.srl
