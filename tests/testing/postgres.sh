# Sourced by dev.sh and by the fault tests: a throwaway PostgreSQL cluster for the tests, on
# loopback, owned by the postgres user (initdb and postgres refuse to run as root).
#   pg_start DIR [PORT]    creates (if needed) and starts a cluster in DIR, on PORT or a free one
#                          (kept in DIR/port); exports PG_URL
#   pg_stop DIR [MODE]     stops it; MODE fast (default: sessions are told, then closed) or
#                          immediate (a crash: the next start recovers from the WAL)
#   pg_restart DIR [MODE]  stops it that way and starts it again on the same port
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

pg_as() {  # run a command as the postgres user when we are root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  local dir bin port
  dir=$(realpath -m "$1"); bin=$(pg_bin); port=${2:-}
  [ -n "$bin" ] || { echo "[dev] PostgreSQL server binaries not found" >&2; return 1; }
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    pg_as "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log"; return 1; }
  fi
  pg_as "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  [ -n "$port" ] || port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  pg_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null ||
    { tail -n 20 "$dir/server.log"; return 1; }
  echo "$port" >"$dir/port"
  export PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
}

pg_stop() {
  local dir bin
  dir=$(realpath -m "$1"); bin=$(pg_bin)
  [ -f "$dir/data/postmaster.pid" ] && pg_as "$bin/pg_ctl" -D "$dir/data" -m "${2:-fast}" -w -t 60 stop >/dev/null 2>&1
  return 0
}

pg_restart() {
  local dir
  dir=$(realpath -m "$1")
  pg_stop "$dir" "${2:-fast}" && pg_start "$dir" "$(cat "$dir/port")"
}
