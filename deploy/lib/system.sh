# The whole system on the private broker, for deploy/demo and deploy/bench-pipeline: a virtual
# host of its own, a local SMTP server, the three services as processes with their stores and
# logs in one folder. Source after common.sh; call system_stop from an EXIT trap.

system_pids=()
declare -A system_service_pid
system_started_broker=0
system_vhost=""

# system_start_broker VHOST: starts the private broker if it is not running and creates VHOST
# for guest. Sets SYSTEM_AMQP_URL (the vhost's URL) and SYSTEM_AMQP_PORT.
system_start_broker() {
  system_vhost=$1
  if ! "$DELEGATION_ROOT/deploy/broker" status >/dev/null 2>&1; then
    "$DELEGATION_ROOT/deploy/broker" start
    system_started_broker=1
  fi
  local base
  base=$("$DELEGATION_ROOT/deploy/broker" env | sed -n 's/^DELEGATION_AMQP_URL=//p')
  "$DELEGATION_ROOT/deploy/broker" ctl add_vhost "$system_vhost" >/dev/null
  "$DELEGATION_ROOT/deploy/broker" ctl set_permissions -p "$system_vhost" guest '.*' '.*' '.*' >/dev/null
  SYSTEM_AMQP_URL="${base%/}/$system_vhost"
  SYSTEM_AMQP_PORT=$(printf '%s' "$base" | sed -E 's#.*:([0-9]+)/?$#\1#')
}

# system_start_server NAME LOGDIR COMMAND...: runs a server that prints "ready PORT" (output in
# LOGDIR/NAME.out and .err); sets SYSTEM_SERVER_PORT.
system_start_server() {
  local name=$1 logs=$2; shift 2
  "$@" >"$logs/$name.out" 2>"$logs/$name.err" &
  system_pids+=($!)
  for _ in $(seq 50); do grep -q '^ready ' "$logs/$name.out" 2>/dev/null && break; sleep 0.1; done
  SYSTEM_SERVER_PORT=$(sed -n 's/^ready //p' "$logs/$name.out")
  [ -n "$SYSTEM_SERVER_PORT" ] || die "the $name server did not start: $(cat "$logs/$name.err")"
}

# system_start_smtp LOGDIR COMMAND...: runs an SMTP server that prints "ready PORT"; sets
# SYSTEM_SMTP_PORT.
system_start_smtp() {
  system_start_server smtp "$@"
  SYSTEM_SMTP_PORT=$SYSTEM_SERVER_PORT
}

# system_start_services BIN DIR PORT_BASE LOG_LEVEL [NOTIFICATIONS_SETTING=…]...: the four
# services (stores in DIR, logs in DIR/logs, HTTP on 127.0.0.1:PORT_BASE..+3, the console last,
# fresh identity keys, a fresh document key for the console, quiet hours off), then waits until
# each is ready.
system_start_services() {
  local bin=$1 dir=$2 base=$3 level=$4; shift 4
  local common=(AMQP_URL="$SYSTEM_AMQP_URL" LOG_FORMAT=text LOG_LEVEL="$level")
  system_start_one() {
    local name=$1; shift
    env "${common[@]}" "$@" "$bin/$name" serve >"$dir/logs/$name.log" 2>&1 &
    system_pids+=($!)
    system_service_pid[$name]=$!
  }
  # The sample event (January 2026) may be over for longer than the default retention: keep its
  # data for the demo and the benchmarks.
  # Registrations seals a copy of each identity document to the console's key.
  local console_keys
  console_keys=$("$bin/console" document-keys generate --id local 2>/dev/null)
  system_start_one registrations REGISTRATIONS_STORE_PATH="$dir/registrations.sqlite" REGISTRATIONS_HTTP_PORT="$base" \
    REGISTRATIONS_IDENTITY_KEYS="k1:$(openssl rand -base64 32)" REGISTRATIONS_RETENTION_DAYS=3650 \
    REGISTRATIONS_CONSOLE_DOCUMENT_KEY="$(sed -n 's/^public: //p' <<<"$console_keys")"
  system_start_one itineraries ITINERARIES_STORE_PATH="$dir/itineraries.sqlite" ITINERARIES_HTTP_PORT=$((base + 1)) \
    ITINERARIES_IDENTITY_KEYS="k1:$(openssl rand -base64 32)"
  system_start_one notifications NOTIFICATIONS_STORE_PATH="$dir/notifications.sqlite" NOTIFICATIONS_HTTP_PORT=$((base + 2)) \
    NOTIFICATIONS_SMTP_PORT="$SYSTEM_SMTP_PORT" NOTIFICATIONS_QUIET_HOURS=off "$@"
  system_start_one console CONSOLE_STORE_PATH="$dir/console.sqlite" CONSOLE_HTTP_PORT=$((base + 3)) \
    CONSOLE_DOCUMENT_KEYS="$(sed -n 's/^private: //p' <<<"$console_keys")"
  /usr/bin/python3 "$DELEGATION_ROOT/deploy/lib/demo_report.py" ready --ports "$base" $((base + 1)) $((base + 2)) $((base + 3)) --timeout 60 \
    || die "a service did not become ready; see ${dir#$DELEGATION_ROOT/}/logs/"
}

# Stops what system_start_* started: the processes, the vhost, the broker if it was not running.
system_stop() {
  local pid
  for pid in "${system_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${system_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "$system_vhost" ] && "$DELEGATION_ROOT/deploy/broker" ctl delete_vhost "$system_vhost" >/dev/null 2>&1 || true
  [ $system_started_broker = 1 ] && "$DELEGATION_ROOT/deploy/broker" stop || true
}
