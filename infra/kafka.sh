#!/usr/bin/env bash
# Real single-node Apache Kafka (KRaft) for development and integration tests,
# run straight from its Maven Central jars: no Docker, no tarball download.
#   infra/kafka.sh install|up|down|status
set -euo pipefail
SCRIPT_NAME=kafka
# shellcheck source=infra/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

POM="$INFRA_DIR/kafka/pom.xml"
KAFKA_VERSION="${IMCLOUD_KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")}"
PORT="${IMCLOUD_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${IMCLOUD_KAFKA_CONTROLLER_PORT:-9093}"
HEAP="${IMCLOUD_KAFKA_HEAP:-512m}"
START_TIMEOUT="${IMCLOUD_KAFKA_START_TIMEOUT:-60}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"  # Kafka 4.x brokers need Java 17+

LIBS="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"
HOME_DIR="$STATE_DIR/kafka"
DATA_DIR="$HOME_DIR/data"
LOG_FILE="$HOME_DIR/logs/server.log"
PID_FILE="$HOME_DIR/kafka.pid"
CONFIG="$HOME_DIR/server.properties"
ADDR="127.0.0.1:$PORT"

# The cache is valid for exactly this pom and version; a changed pin refetches.
fingerprint() { { cat "$POM"; echo "$KAFKA_VERSION"; } | sha256sum | cut -d' ' -f1; }

install() {
  local stamp="$LIBS/.complete"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$(fingerprint)" ]]; then
    say "kafka $KAFKA_VERSION jars already in $LIBS"
    return
  fi
  # Preinstalled on our machines; installed here so a bare Debian works too.
  if ! command -v "$JAVA" >/dev/null || ! command -v mvn >/dev/null; then
    apt_install default-jre-headless maven
  fi
  say "fetching kafka $KAFKA_VERSION jars from Maven Central"
  # Maven's own repo lives in the cache dir too, so an empty cache means a real
  # download; the work dir keeps target/ out of the repo and, being on the
  # cache's filesystem, makes the final mv an atomic rename.
  mkdir -p "$CACHE_DIR"
  local work; work="$(mktemp -d "$CACHE_DIR/.kafka-fetch.XXXXXX")"
  # shellcheck disable=SC2064  # expand now: $work is local
  trap "rm -rf $(printf %q "$work")" EXIT
  cp "$POM" "$work/pom.xml"
  if ! (cd "$work" && mvn -B -q -Dstyle.color=never \
        -Dmaven.repo.local="$CACHE_DIR/m2" -Dkafka.version="$KAFKA_VERSION" \
        org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$work/libs") >"$work/mvn.log" 2>&1; then
    sed "s/\x1b\[[0-9;]*m//g" "$work/mvn.log" >&2  # strip jansi colour codes
    die "could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION with Maven"
  fi
  ls "$work/libs"/kafka_2.13-*.jar >/dev/null 2>&1 || die "no kafka_2.13 jar in Maven's output"
  fingerprint >"$work/libs/.complete"
  rm -rf "$LIBS"
  mkdir -p "$(dirname "$LIBS")"
  mv "$work/libs" "$LIBS"
  say "kafka $KAFKA_VERSION jars in $LIBS"
}

running_pid() {
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  pid_matches "$pid" "$CONFIG" && echo "$pid"
}

# An exited broker may linger as a zombie; its cmdline is empty then.
gone() { ! pid_matches "$1" "$CONFIG"; }

# Ready means a Metadata request (v4, hand-encoded: v0-v3 are gone in Kafka 4)
# on the client port answers with at least one broker, i.e. the broker has
# registered with the controller and serves clients, not just that a port is open.
metadata_ready() {
  # shellcheck disable=SC2016  # the inner script expands its own $1
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "\x00\x00\x00\x10\x00\x03\x00\x04\x00\x00\x00\x01\x00\x01p\xff\xff\xff\xff\x00" >&3
    read -r -a b < <(head -c 16 <&3 | od -An -v -tu1 | tr -s " \n" "  ")
    # bytes 4-7: correlation id 1; bytes 12-15: number of brokers
    [[ ${#b[@]} -eq 16 && ${b[7]} -eq 1 ]] && (( b[12] + b[13] + b[14] + b[15] > 0 ))
  ' _ "$PORT" 2>/dev/null
}

write_config() {
  mkdir -p "$HOME_DIR/logs" "$DATA_DIR"
  sed -e "s|@PORT@|$PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
      -e "s|@DATA_DIR@|$DATA_DIR|g" "$INFRA_DIR/kafka/server.properties.in" >"$CONFIG"
}

# Formats once. The bootstrap voter set records the controller endpoint and a
# newer metadata log may not load in an older broker, so a change of either
# wipes the data dir (test data only) and formats again.
format_storage() {
  local want="version=$KAFKA_VERSION controller_port=$CONTROLLER_PORT"
  local stamp="$HOME_DIR/formatted"
  if [[ -f "$DATA_DIR/meta.properties" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
    return
  fi
  say "formatting $DATA_DIR"
  rm -rf "$DATA_DIR" && mkdir -p "$DATA_DIR"
  # A cluster id is 16 random bytes in unpadded base64url (what `StorageTool
  # random-uuid` prints, minus one JVM start); Kafka avoids a leading '-'.
  local id out
  id=-
  while [[ $id == -* ]]; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  done
  if ! out="$("$JAVA" -XX:TieredStopAtLevel=1 -cp "$LIBS/*" \
        -Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.properties" \
        kafka.tools.StorageTool format --standalone -t "$id" -c "$CONFIG" 2>&1)"; then
    echo "$out" >&2
    die "kafka storage format failed"
  fi
  echo "$want" >"$stamp"
}

startup_failed() {
  echo "---- last lines of $LOG_FILE ----" >&2
  tail -n 40 "$LOG_FILE" >&2 || true
  die "$1"
}

up() {
  if running_pid >/dev/null && metadata_ready; then
    echo "kafka already running at $ADDR"
    return
  fi
  install
  if ! running_pid >/dev/null; then
    rm -f "$PID_FILE"
    for p in "$PORT" "$CONTROLLER_PORT"; do
      port_open "$p" && die "port $p is already in use by another process (set IMCLOUD_KAFKA_PORT / IMCLOUD_KAFKA_CONTROLLER_PORT)"
    done
    write_config
    format_storage
    [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
    say "starting kafka $KAFKA_VERSION"
    # JVM flags as in upstream kafka-run-class.sh, minus GC logging, plus C1-only
    # JIT: halves startup on 2 cores (~5.5 s -> ~2.7 s) with no throughput loss
    # visible from Python clients. IMCLOUD_KAFKA_JVM_OPTS comes last, so
    # -XX:TieredStopAtLevel=4 there restores C2. setsid: a Ctrl-C or a kill of
    # the caller's process group must not take Kafka along. 9>&-: the broker
    # must not inherit (and hold forever) the lock of take_lock.
    # shellcheck disable=SC2086
    setsid nohup "$JAVA" -Xms"$HEAP" -Xmx"$HEAP" -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
      -XX:TieredStopAtLevel=1 -Djava.awt.headless=true ${IMCLOUD_KAFKA_JVM_OPTS:-} \
      -Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.properties" \
      -cp "$LIBS/*" kafka.Kafka "$CONFIG" >"$LOG_FILE" 2>&1 </dev/null 9>&- &
    echo $! >"$PID_FILE"
  fi
  local pid deadline=$((SECONDS + START_TIMEOUT))
  pid="$(cat "$PID_FILE")"
  until metadata_ready; do
    if gone "$pid"; then
      rm -f "$PID_FILE"
      startup_failed "kafka exited during startup"
    fi
    ((SECONDS < deadline)) || startup_failed "kafka not ready within ${START_TIMEOUT}s (pid $pid still running; 'infra/kafka.sh down' stops it)"
    sleep 0.5
  done
  echo "kafka ready at $ADDR"
}

down() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    echo "kafka not running"
    return
  fi
  kill -TERM "$pid"
  # Controlled shutdown of one node takes a few seconds; don't cut it short.
  if ! wait_until 30 gone "$pid"; then
    echo "[kafka] pid $pid ignored SIGTERM for 30s, killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait_until 5 gone "$pid" || die "could not stop pid $pid"
  fi
  rm -f "$PID_FILE"
  echo "kafka stopped"
}

status() {
  if running_pid >/dev/null && metadata_ready; then
    echo "kafka running at $ADDR (pid $(cat "$PID_FILE"))"
  else
    echo "kafka not running"
    return 1
  fi
}

case "${1:-}" in
  install) take_lock; install; echo "kafka $KAFKA_VERSION installed in $LIBS" ;;
  up) take_lock; up ;;
  down) take_lock; down ;;
  status) status ;;
  *) usage_and_exit ;;
esac
