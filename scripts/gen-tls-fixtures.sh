#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# Writes the TLS test certificates of test/fixtures/tls/ (test-only keys, committed so that the
# tests need no openssl binary): a CA, a server certificate for localhost / 127.0.0.1 / ::1, a
# second server certificate for the SNI name other.test, a client certificate, an expired
# server certificate, and a second CA that signed none of them. Valid for 100 years, except the
# expired one (January 2020). Run again only to replace them: `bash scripts/gen-tls-fixtures.sh`.
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x

out="$(cd "$(dirname "$0")/.." && pwd)/test/fixtures/tls"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# The CAs.
for ca in ca other-ca; do
  key "$ca.key"
  openssl req -x509 -new -key "$ca.key" -sha256 -days 36500 -subj "/CN=evwire test $ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$ca.pem"
done

# A leaf signed by the CA: name, subjectAltName, extended key usage, then extra `openssl ca`
# arguments (dates).
leaf() {
  local name=$1 san=$2 eku=$3
  shift 3
  key "$name.key"
  openssl req -new -key "$name.key" -subj "/CN=$name" -out "$name.csr"
  cat >"$name.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=$eku
${san:+subjectAltName=$san}
EXT
  mkdir -p db && touch db/index.txt && { [ -f db/serial ] || echo 1000 >db/serial; }
  cat >ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = db/index.txt
serial = db/serial
new_certs_dir = db
certificate = ca.pem
private_key = ca.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
CNF
  openssl ca -batch -config ca.cnf -notext -extfile "$name.ext" -in "$name.csr" -out "$name.pem" "$@" 2>/dev/null
}

leaf server "DNS:localhost,IP:127.0.0.1,IP:::1" serverAuth -days 36500
leaf other "DNS:other.test" serverAuth -days 36500
leaf client "" clientAuth -days 36500
leaf expired "DNS:localhost,IP:127.0.0.1" serverAuth -startdate 20200101000000Z -enddate 20200102000000Z

cp ca.pem ca.key other-ca.pem server.pem server.key other.pem other.key client.pem client.key \
  expired.pem expired.key "$out/"
cat >"$out/README.md" <<'MD'
# TLS test certificates

Test-only keys and certificates, made by `scripts/gen-tls-fixtures.sh` (ECDSA P-256). Never use
them for anything else: the private keys are public.

| file | what |
| --- | --- |
| `ca.pem`, `ca.key` | the CA that signed the others |
| `other-ca.pem` | a CA that signed nothing here (a client that trusts only it must refuse the server) |
| `server.pem`, `server.key` | `localhost`, `127.0.0.1`, `::1` (server authentication) |
| `other.pem`, `other.key` | `other.test`, for SNI |
| `client.pem`, `client.key` | a client certificate (client authentication) |
| `expired.pem`, `expired.key` | `localhost`, valid only on 1 January 2020 |
MD
echo "gen-tls-fixtures: wrote $(ls "$out" | wc -l) files to test/fixtures/tls"
