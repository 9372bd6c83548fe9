#!/bin/sh
# Makes the TLS files of a cluster (docs/cluster.md, "Between nodes"):
#   DIR/ca.pem, DIR/ca.key          the cluster's CA (keep ca.key offline)
#   DIR/NODE.pem, DIR/NODE.key      one certificate and key per node, signed by the CA
# With --foreign, also a second CA (DIR/foreign-ca.pem) and a certificate
# from it (DIR/rogue.pem, DIR/rogue.key), which the cluster must refuse;
# with --passphrase PASS, the node keys are written encrypted (AES-256).
# usage: scripts/make-cluster-certs.sh [--foreign] [--passphrase PASS] DIR NODE...
# CAF checks the CA chain only, not host names: use one CA per cluster.
set -eu

usage() { echo "usage: $0 [--foreign] [--passphrase PASS] DIR NODE..." >&2; exit 2; }
foreign=0
passphrase=""
while [ $# -gt 0 ]; do
  case "$1" in
    --foreign) foreign=1; shift ;;
    --passphrase) [ $# -ge 2 ] || usage; passphrase=$2; shift 2 ;;
    --) shift; break ;;
    -*) usage ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || usage
dir=$1; shift

if ! command -v openssl >/dev/null 2>&1; then
  echo "$0: openssl is missing: install openssl (apt-get install openssl)" >&2
  exit 3
fi
mkdir -p "$dir"
umask 077

make_ca() { # name
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
    -keyout "$dir/$1.key" -out "$dir/$1.pem" -subj "/CN=annals $1" 2>/dev/null
}
make_node() { # name ca
  openssl req -newkey rsa:2048 -nodes -keyout "$dir/$1.key" -out "$dir/$1.csr" \
    -subj "/CN=$1" 2>/dev/null
  # No subjectAltName: CAF checks no host names, only the CA chain.
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' > "$dir/$1.ext"
  openssl x509 -req -in "$dir/$1.csr" -CA "$dir/$2.pem" -CAkey "$dir/$2.key" -CAcreateserial \
    -days 825 -sha256 -extfile "$dir/$1.ext" -out "$dir/$1.pem" 2>/dev/null
  rm -f "$dir/$1.csr" "$dir/$1.ext"
  if [ -n "$passphrase" ]; then
    openssl pkey -in "$dir/$1.key" -aes256 -passout "pass:$passphrase" -out "$dir/$1.key.enc"
    mv "$dir/$1.key.enc" "$dir/$1.key"
  fi
}

[ -f "$dir/ca.pem" ] && [ -f "$dir/ca.key" ] || make_ca ca
for node in "$@"; do make_node "$node" ca; done
if [ "$foreign" = 1 ]; then
  make_ca foreign-ca
  make_node rogue foreign-ca
fi
rm -f "$dir"/*.srl
# Certificates are public; keys stay readable by their owner only (umask).
chmod 644 "$dir"/*.pem
echo "$dir: ca.pem$(for n in "$@"; do printf ' %s.pem %s.key' "$n" "$n"; done)$([ "$foreign" = 1 ] && echo ' foreign-ca.pem rogue.pem rogue.key')"
