#!/usr/bin/env bash
# A self-signed certificate for tinyweb's TLS listeners on this machine (make run, the tests, the
# benchmarks): valid for localhost, 127.0.0.1 and ::1, 825 days, made once with the openssl CLI.
# Usage: scripts/tls_cert.sh DIR [ecdsa|rsa]
#   Writes DIR/cert.pem (the certificate, which is also the CA a client trusts: curl --cacert,
#   Python's ssl, Chromium's policy) and DIR/key.pem (mode 0600), unless both exist already.
#   ecdsa (default): P-256; rsa: 2048 bits. Prints the certificate's path.
set -euo pipefail

[ $# -ge 1 ] && [ $# -le 2 ] || { sed -n '4p' "$0" >&2; exit 2; }
dir=$1
kind=${2:-ecdsa}
case "$kind" in
ecdsa) keyopt=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
rsa) keyopt=(-newkey rsa:2048) ;;
*) echo "scripts/tls_cert.sh: unknown key type '$kind' (ecdsa or rsa)" >&2; exit 2 ;;
esac
command -v openssl >/dev/null || { echo "scripts/tls_cert.sh: openssl not found (apt-get install openssl)" >&2; exit 1; }

cert=$dir/cert.pem key=$dir/key.pem
if [ -s "$cert" ] && [ -s "$key" ]; then
  echo "$cert"
  exit 0
fi
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.tls_cert.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(umask 077 && openssl req -x509 "${keyopt[@]}" -nodes -days 825 -sha256 \
  -subj "/CN=tinyweb test certificate" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,digitalSignature,keyCertSign" \
  -addext "extendedKeyUsage=serverAuth" \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>"$tmp/log") || {
  cat "$tmp/log" >&2
  exit 1
}
chmod 600 "$tmp/key.pem"
chmod 644 "$tmp/cert.pem"
mv "$tmp/key.pem" "$key"
mv "$tmp/cert.pem" "$cert"
echo "$cert"
