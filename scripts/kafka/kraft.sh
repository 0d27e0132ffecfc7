#!/usr/bin/env bash
# Single-node Apache Kafka 4.x (KRaft) for the compatibility suite, fetched from Maven Central.
#
# Why: the embedded Tansu broker gets end offsets and timestamp lookups wrong (docs/kafka.md);
# production runs on Apache Kafka, so the broker tests also run here. No Docker needed: the
# broker's jars come from Maven Central via scripts/kafka/pom.xml and run on the machine's Java 17.
#
# Usage: scripts/kafka/kraft.sh start|stop|status [--port N] [--dir D]
#        scripts/kafka/kraft.sh fetch              # download the jars only, print the libs dir
#        scripts/kafka/kraft.sh prepare --port N --dir D [--controller-port M]
#                                                  # fetch, write config, format storage
#        scripts/kafka/kraft.sh run --dir D        # exec the broker in the foreground
# Environment: KAFKA_VERSION (default 4.4.0), KAFKA_CACHE_DIR (default <repo>/.cache/kafka),
#              KAFKA_HEAP (default -Xmx512m -Xms128m), KAFKA_JVM_OPTS (GC/JIT flags),
#              KRAFT_READY_TIMEOUT (s, default 90),
#              KRAFT_FORMAT_ARGS (more arguments to the storage format, e.g. --add-scram ...),
#              PYTHON (default <repo>/.venv/bin/python, used for the readiness probe).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
CACHE="${KAFKA_CACHE_DIR:-$ROOT/.cache/kafka}"
LIBS="$CACHE/$KAFKA_VERSION/libs"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PYTHON" ]] || PYTHON=python3  # the probe needs kafka-python wherever it runs
READY_TIMEOUT="${KRAFT_READY_TIMEOUT:-90}"

die() { echo "kraft: $*" >&2; exit 1; }
log() { echo "kraft: $*" >&2; }

# --- fetch: jars into $LIBS, once (a .complete marker makes it idempotent) -------------------
fetch() {
    if [[ -f "$LIBS/.complete" ]]; then
        echo "$LIBS"
        return
    fi
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    local tmp="$LIBS.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$(dirname "$LIBS")"
    log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $LIBS"
    if ! mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy-dependencies \
        -Dkafka.version="$KAFKA_VERSION" -Dkafka.libs="$tmp" >"$tmp.mvn.log" 2>&1; then
        cat "$tmp.mvn.log" >&2
        rm -rf "$tmp" "$tmp.mvn.log"
        die "mvn dependency:copy-dependencies failed"
    fi
    rm -f "$tmp.mvn.log"
    touch "$tmp/.complete"
    # Another process may have finished first; either copy is complete, keep one.
    if ! mv -T "$tmp" "$LIBS" 2>/dev/null; then
        rm -rf "$tmp"
        [[ -f "$LIBS/.complete" ]] || die "could not install jars into $LIBS"
    fi
    echo "$LIBS"
}

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_in_use() {
    "$PYTHON" - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
EOF
}

# --- prepare: server.properties + log4j2 config + formatted storage in $DIR -------------------
prepare() {
    local port="$1" dir="$2" cport="${3:-}"
    fetch >/dev/null
    mkdir -p "$dir"
    if [[ -f "$dir/data/meta.properties" ]]; then
        # Already formatted (a broker that was not stopped): reuse it only for the same port.
        grep -q "^listeners=PLAINTEXT://127.0.0.1:$port," "$dir/server.properties" \
            || die "$dir holds a broker formatted for another port: stop it or remove $dir"
        return
    fi
    [[ -n "$cport" ]] || cport="$(free_port)"
    cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka/kraft.sh: one node that is both broker and controller.
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
controller.quorum.bootstrap.servers=127.0.0.1:$cport
log.dirs=$dir/data
# Topics must be created explicitly with the app's partition count, as on Tansu and in
# production (an auto-created topic hides a missing declaration and gets the wrong count).
auto.create.topics.enable=false
num.partitions=4
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Small segments and a 2-core machine.
log.segment.bytes=1048576
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
EOF
    cat >"$dir/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.raft.name = org.apache.kafka.raft
logger.raft.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
    local cluster_id
    # Kafka's own Uuid format; never starting with "-", which the tool would read as an option.
    cluster_id="$("$PYTHON" -c 'import base64, uuid
while (c := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"): pass
print(c)')"
    # shellcheck disable=SC2086  # KRAFT_FORMAT_ARGS may hold several arguments
    java -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$dir/log4j2.properties" \
        -cp "$LIBS/*" kafka.tools.StorageTool \
        format --standalone -t "$cluster_id" -c "$dir/server.properties" ${KRAFT_FORMAT_ARGS:-} \
        >"$dir/format.log" 2>&1 \
        || { cat "$dir/format.log" >&2; die "storage format failed"; }
}

# --- run: the broker in the foreground (exec, so the caller's pid is the JVM's) ---------------
run() {
    local dir="$1"
    [[ -f "$dir/server.properties" ]] || die "no $dir/server.properties: run prepare first"
    fetch >/dev/null
    # C1-only JIT: ready in ~3 s instead of ~6 s on 2 busy cores, and the Python clients,
    # not the broker, set the pace of the tests (docs/kafka.md has the A/B figures).
    # shellcheck disable=SC2086  # both variables may hold several JVM flags
    exec java ${KAFKA_HEAP:--Xmx512m -Xms128m} \
        ${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1} \
        -Djava.awt.headless=true -Dlog4j2.configurationFile="$dir/log4j2.properties" \
        -cp "$LIBS/*" kafka.Kafka "$dir/server.properties"
}

# Ready means a real Kafka request (Metadata via the admin client) is answered.
probe() {
    "$PYTHON" - "$1" <<'EOF' >/dev/null 2>&1
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
with socket.socket() as s:  # cheap check first: kafka-python waits 30 s on a closed port
    s.settimeout(0.5)
    if s.connect_ex((host, int(port))) != 0:
        sys.exit(1)
from kafka.admin import KafkaAdminClient
admin = KafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=3000,
                         bootstrap_timeout_ms=3000)
admin.list_topics()
admin.close()
EOF
}

pid_alive() { [[ -f "$1/kafka.pid" ]] && kill -0 "$(cat "$1/kafka.pid")" 2>/dev/null; }

start() {
    local port="$1" dir="$2"
    if pid_alive "$dir"; then
        echo "bootstrap=127.0.0.1:$port"
        return
    fi
    ! port_in_use "$port" || die "port $port is already in use"
    prepare "$port" "$dir"
    local t0=$SECONDS
    setsid "$0" run --dir "$dir" >"$dir/kafka.log" 2>&1 </dev/null &
    echo $! >"$dir/kafka.pid"
    trap 'stop "$dir"; exit 130' INT TERM  # interrupted before ready: leave nothing behind
    while ! probe "127.0.0.1:$port"; do
        if ! pid_alive "$dir"; then
            tail -n 40 "$dir/kafka.log" >&2
            rm -f "$dir/kafka.pid"
            die "broker exited during start-up (log: $dir/kafka.log)"
        fi
        if (( SECONDS - t0 > READY_TIMEOUT )); then
            tail -n 40 "$dir/kafka.log" >&2
            stop "$dir" keep
            die "broker not ready after ${READY_TIMEOUT}s (log: $dir/kafka.log)"
        fi
        sleep 0.5
    done
    trap - INT TERM
    log "ready in $((SECONDS - t0))s (pid $(cat "$dir/kafka.pid"), log $dir/kafka.log)"
    echo "bootstrap=127.0.0.1:$port"
}

stop() {
    local dir="$1" keep="${2:-}"
    if pid_alive "$dir"; then
        local pid
        pid="$(cat "$dir/kafka.pid")"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do  # 20 s grace: a controlled shutdown takes a few seconds
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "broker $pid ignored SIGTERM for 20 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$dir/kafka.pid"
    if [[ -z "$keep" && -d "$dir" ]]; then
        rm -rf "$dir"
    fi
}

status() {
    local port="$1" dir="$2"
    if pid_alive "$dir" && probe "127.0.0.1:$port"; then
        echo "running pid=$(cat "$dir/kafka.pid") bootstrap=127.0.0.1:$port"
    elif pid_alive "$dir"; then
        echo "starting pid=$(cat "$dir/kafka.pid") (not answering on 127.0.0.1:$port yet)"
        return 1
    else
        echo "stopped"
        return 3
    fi
}

cmd="${1:-}"
[[ -n "$cmd" ]] || die "usage: kraft.sh start|stop|status|fetch|prepare|run [--port N] [--dir D]"
[[ "$cmd" != -h && "$cmd" != --help ]] || { sed -n '2,16p' "$0"; exit 0; }
shift
PORT=9092
DIR=""
CPORT=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --port) PORT="$2"; shift 2 ;;
        --dir) DIR="$2"; shift 2 ;;
        --controller-port) CPORT="$2"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done
[[ -n "$DIR" ]] || DIR="${TMPDIR:-/tmp}/borderfusion-kraft-$PORT"

case "$cmd" in
    fetch) fetch ;;
    prepare) prepare "$PORT" "$DIR" "$CPORT" ;;
    run) run "$DIR" ;;
    start) start "$PORT" "$DIR" ;;
    stop) stop "$DIR" ;;
    status) status "$PORT" "$DIR" ;;
    *) die "unknown command: $cmd" ;;
esac
