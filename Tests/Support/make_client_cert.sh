#!/usr/bin/env bash
# Makes a client certificate (clientAuth) signed by the test CA in DIR (made by make_test_ca.sh):
#   make_client_cert.sh DIR NAME   -> DIR/NAME.pem, DIR/NAME.key (tests only)
set -euo pipefail
dir=$1; name=$2
cd "$dir"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name" -keyout "$name.key" -out "$name.csr" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' > "$name.cnf"
openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile "$name.cnf" -out "$name.pem" 2>/dev/null
echo ok
