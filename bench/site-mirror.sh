#!/usr/bin/env bash
# Mirrors a real static site (Debian's git-doc HTML manual, served by Debian's nginx) with
# wget --mirror: once directly, then twice through Lacquer (cold, then from the store), and
# prints file counts, whether the trees are identical, how many requests reached nginx in each
# crawl, and the wall time of each crawl.
#
#   needs:  apt-get install -y nginx wget git-doc
#   usage:  npm run build && bench/site-mirror.sh
#   env:    DOC_ROOT (default /usr/share/doc/git-doc), START (default /index.html),
#           KEEP=1 keeps the temp dir (mirrors, logs) and prints its path
#
# Everything listens on 127.0.0.1 on free ports. Only the nginx and Lacquer processes this
# script started are stopped, by their PIDs.
set -euo pipefail

cd "$(dirname "$0")/.."
DOC_ROOT=${DOC_ROOT:-/usr/share/doc/git-doc}
START=${START:-/index.html}
NGINX=$(command -v nginx || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx

missing=()
[ -n "$NGINX" ] || missing+=(nginx)
command -v wget >/dev/null || missing+=(wget)
[ -e "$DOC_ROOT${START}" ] || missing+=("git-doc ($DOC_ROOT$START)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "site-mirror: missing ${missing[*]}; run: apt-get install -y nginx wget git-doc" >&2
  exit 1
fi
if [ ! -f dist/src/cli/main.js ]; then
  echo "site-mirror: dist/ is not built; run: npm run build" >&2
  exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/lacquer-site-mirror.XXXXXX")
NGINX_PID=''
LACQUER_PID=''
cleanup() {
  [ -n "$LACQUER_PID" ] && kill "$LACQUER_PID" 2>/dev/null && wait "$LACQUER_PID" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
  if [ "${KEEP:-}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }

# --- nginx --------------------------------------------------------------------------------
NG=$TMP/nginx
mkdir -p "$NG"
NGINX_PORT=$(free_port)
cat > "$NG/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections 512; }
http {
  types { text/html html htm; text/css css; text/plain txt; application/x-sh sh; application/gzip gz; }
  default_type application/octet-stream;
  access_log $NG/access.log;
  client_body_temp_path $NG/client_body;
  proxy_temp_path $NG/proxy;
  fastcgi_temp_path $NG/fastcgi;
  uwsgi_temp_path $NG/uwsgi;
  scgi_temp_path $NG/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $DOC_ROOT;
    # 'always' makes the 404s (robots.txt, a dangling link) cacheable too
    add_header Cache-Control "public, max-age=3600" always;
  }
}
EOF
"$NGINX" -p "$NG" -e "$NG/error.log" -c "$NG/nginx.conf" 2>"$NG/stderr" &
NGINX_PID=$!
ORIGIN=http://127.0.0.1:$NGINX_PORT
for _ in $(seq 100); do
  wget -q -O /dev/null "$ORIGIN$START" && break
  kill -0 "$NGINX_PID" 2>/dev/null || { echo "nginx exited:" >&2; cat "$NG/stderr" "$NG/error.log" >&2; exit 1; }
  sleep 0.05
done
wget -q -O /dev/null "$ORIGIN$START" || { echo "nginx does not answer $ORIGIN$START" >&2; exit 1; }

# --- Lacquer --------------------------------------------------------------------------------
node dist/src/cli/main.js serve --origin "$ORIGIN" --listen 127.0.0.1:0 --no-admin --store-size 256mb --log-level warn \
  >"$TMP/lacquer.out" 2>"$TMP/lacquer.err" &
LACQUER_PID=$!
PROXY=''
for _ in $(seq 100); do
  PROXY=$(sed -n 's#^lacquer: serving \(http://[^ ]*\) .*#\1#p' "$TMP/lacquer.out")
  [ -n "$PROXY" ] && break
  kill -0 "$LACQUER_PID" 2>/dev/null || { echo "lacquer exited:" >&2; cat "$TMP/lacquer.err" >&2; exit 1; }
  sleep 0.05
done
[ -n "$PROXY" ] || { echo "lacquer did not start" >&2; exit 1; }

# --- crawls ---------------------------------------------------------------------------------
# Each crawl goes into a fresh directory: wget -N does not recurse from a 304 start page.
# Sets CRAWL_MS, CRAWL_ORIGIN (access-log lines added), CRAWL_RC.
crawl() {
  local base=$1 dir=$2 before after t0
  sleep 0.1; before=$(lines "$NG/access.log")
  t0=$(now_ms)
  set +e
  wget --mirror --no-parent -nH -q -P "$dir" "$base$START"
  CRAWL_RC=$?
  set -e
  CRAWL_MS=$(( $(now_ms) - t0 ))
  sleep 0.1; after=$(lines "$NG/access.log")
  CRAWL_ORIGIN=$(( after - before ))
}
count_files() { find "$1" -type f | wc -l; }
count_html() { find "$1" -type f -name '*.html' | wc -l; }
identical() { if diff -rq "$1" "$2" >"$TMP/diff.txt" 2>&1; then echo yes; else echo "NO (see below)"; fi; }

crawl "$ORIGIN" "$TMP/direct";  D_MS=$CRAWL_MS D_ORIGIN=$CRAWL_ORIGIN D_RC=$CRAWL_RC
crawl "$PROXY"  "$TMP/proxy-1"; P1_MS=$CRAWL_MS P1_ORIGIN=$CRAWL_ORIGIN P1_RC=$CRAWL_RC
crawl "$PROXY"  "$TMP/proxy-2"; P2_MS=$CRAWL_MS P2_ORIGIN=$CRAWL_ORIGIN P2_RC=$CRAWL_RC
HITS=$(wget -S -q -O /dev/null "$PROXY$START" 2>&1 | sed -n 's/^ *cache-status: *//Ip')

echo "site:       $DOC_ROOT via nginx $ORIGIN, Lacquer $PROXY, start $START"
echo "files:      direct $(count_files "$TMP/direct") ($(count_html "$TMP/direct") html), via Lacquer 1: $(count_files "$TMP/proxy-1"), via Lacquer 2: $(count_files "$TMP/proxy-2")"
echo "wget exit:  direct $D_RC, via Lacquer 1: $P1_RC, via Lacquer 2: $P2_RC   (8 = some link answered 404)"
echo "identical:  crawl 1 vs direct: $(identical "$TMP/direct" "$TMP/proxy-1")"
[ -s "$TMP/diff.txt" ] && head -20 "$TMP/diff.txt"
echo "identical:  crawl 2 vs direct: $(identical "$TMP/direct" "$TMP/proxy-2")"
[ -s "$TMP/diff.txt" ] && head -20 "$TMP/diff.txt"
echo "origin requests: direct crawl $D_ORIGIN, Lacquer crawl 1 $P1_ORIGIN, Lacquer crawl 2 $P2_ORIGIN"
echo "wall time:  direct ${D_MS} ms, Lacquer cold (crawl 1) ${P1_MS} ms, Lacquer cached (crawl 2) ${P2_MS} ms"
echo "start page now: Cache-Status: $HITS"
