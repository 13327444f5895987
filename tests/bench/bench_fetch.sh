#!/bin/sh
# Benchmark: `modelseal fetch` of a 1 GiB signed model (4 files of 256 MiB) from nginx on
# 127.0.0.1 over HTTPS, against the baseline measured in the same run: `curl` downloading the
# same files (one connection, one after another) followed by `sha256sum` of them.
# fetch also verifies the signature, checks each digest and fsyncs; the baseline checks nothing.
# Usage: bench_fetch.sh BUILD_DIR   (env: BENCH_MIB=1024 total size, BENCH_RUNS=3 best of N)
set -eu
build=${1:?usage: bench_fetch.sh BUILD_DIR}
build=$(cd "$build" && pwd)
mib=${BENCH_MIB:-1024}
runs=${BENCH_RUNS:-3}
files=4
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "bench_fetch: nginx is not installed (apt-get install nginx-light)"; exit 77; }

work=$(mktemp -d /tmp/modelseal-bench-fetch-XXXXXX)
ngpid=
cleanup() {
  [ -n "$ngpid" ] && kill "$ngpid" 2>/dev/null && wait "$ngpid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
best() { printf '%s\n' "$@" | sort -g | head -1; }

# Certificates, key, model.
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 1 \
  -subj /CN=bench-ca 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
  -subj /CN=127.0.0.1 2>/dev/null
echo "subjectAltName=IP:127.0.0.1" > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 \
  -extfile server.ext 2>/dev/null
"$build/tools/modelseal-keygen" --insecure-no-passphrase -o release >/dev/null 2>&1
mkdir -p srv/model tmp
per=$((mib / files))
i=1
while [ $i -le $files ]; do
  head -c $((per * 1048576)) /dev/urandom > "srv/model/model-0000$i-of-0000$files.safetensors"
  i=$((i + 1))
done
"$build/tools/modelseal-sign" srv/model -k release.key -q

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > nginx.conf <<CONF
master_process off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $work/tmp/body;
  proxy_temp_path $work/tmp/proxy;
  fastcgi_temp_path $work/tmp/fastcgi;
  uwsgi_temp_path $work/tmp/uwsgi;
  scgi_temp_path $work/tmp/scgi;
  default_type application/octet-stream;
  sendfile on;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $work/server.pem;
    ssl_certificate_key $work/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $work/srv;
  }
}
CONF
"$nginx" -g 'daemon off;' -e "$work/startup.log" -p "$work" -c "$work/nginx.conf" &
ngpid=$!
tries=0
until curl -s --cacert ca.pem -o /dev/null "https://127.0.0.1:$port/model/model.sig"; do
  tries=$((tries + 1))
  [ $tries -lt 100 ] || { echo "bench_fetch: nginx did not start"; cat "$work/startup.log"; exit 1; }
  sleep 0.05
done
url="https://127.0.0.1:$port/model"
cat srv/model/* > /dev/null   # the server reads from the page cache in every run

names=$(cd srv/model && ls)
baseline_run() {
  rm -rf out && mkdir out
  args=""
  for n in $names; do args="$args -o out/$n $url/$n"; done
  # shellcheck disable=SC2086
  curl -sS --fail --cacert ca.pem $args
  (cd out && sha256sum $names > /dev/null)
}
fetch_run() {
  rm -rf out
  "$build/tools/modelseal-fetch" "$url" -o out -p release.pub --cacert ca.pem -q
}

base_times=""
fetch_times=""
r=0
while [ $r -lt "$runs" ]; do
  t0=$(now); baseline_run; t1=$(now)
  base_times="$base_times $(elapsed "$t0" "$t1")"
  t0=$(now); fetch_run; t1=$(now)
  fetch_times="$fetch_times $(elapsed "$t0" "$t1")"
  r=$((r + 1))
done
# shellcheck disable=SC2086
b=$(best $base_times)
# shellcheck disable=SC2086
f=$(best $fetch_times)
printf 'model: %d MiB in %d files over HTTPS from nginx on 127.0.0.1, best of %d runs\n' "$mib" "$files" "$runs"
printf 'curl + sha256sum (baseline): %6.2f s  %7.1f MiB/s\n' "$b" "$(div "$mib" "$b")"
printf 'modelseal fetch:             %6.2f s  %7.1f MiB/s\n' "$f" "$(div "$mib" "$f")"
printf 'ratio fetch / baseline: %.2f (below 1: fetch is faster)\n' "$(div "$f" "$b")"
