"""``borderfusion gateway``: HTTP ingest + UDP/TCP NMEA listeners with a local spool.

Thin glue: settings and flags become a :class:`sensors.gateway.service.GatewayConfig`;
everything else lives in ``sensors/gateway/``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from streams.commands.common import (
    add_bootstrap_flag,
    bootstrap_overrides,
    formatter,
    settings_from_args,
    setup_logging,
)

DESCRIPTION = """\
Run a sensor gateway: sensors POST readings over HTTP, AIS receivers send NMEA over UDP
or TCP, and the gateway validates each reading and forwards the good ones to Kafka
(readings.<kind>, keyed by sensor_id). Bad readings are refused per record and sent to
the deadletter topic.

Never loses an accepted reading: while Kafka is unreachable, accepted readings are
fsynced to an on-disk spool (--spool) and sent, in order, when Kafka is back, also
after a gateway restart. A reading is acknowledged only once Kafka acked it or it is
on disk; the HTTP reply says how many of each: {"accepted": n, "spooled": m, ...}.
The spool keeps its file system's last --spool-min-free-mb free (and holds at most
--spool-max-mb, if set): past that, readings are refused with 503 + Retry-After, so a
long outage never fills the disk and the senders keep what was not acknowledged.

HTTP:  POST /ingest/{radar|thermal|seismic|ais}  (JSON lines or a JSON array)
       Authorization: Bearer <token>   (tokens file: hashes of tokens, bound to sensors)
       GET /healthz (spool depth, Kafka reachability), GET /metrics (Prometheus)
"""

EPILOG = """\
examples:
  borderfusion gateway token --name post-3 --sensors R1,T1 >> tokens.yaml   # prints the token on stderr
  BORDERFUSION_SENSORS_FILE=sensors.yaml borderfusion gateway --tokens tokens.yaml \\
      --spool var/spool --nmea-udp 127.0.0.1:10110=A1
  curl -H "Authorization: Bearer $TOKEN" --data-binary @radar.jsonl \\
      http://127.0.0.1:8088/ingest/radar
  borderfusion push readings.jsonl --http http://127.0.0.1:8088 --token $TOKEN
  borderfusion gateway --host 0.0.0.0 --tls-cert gw.pem --tls-key gw.key ...   # HTTPS
  borderfusion push readings.jsonl --http https://gw.post3:8088 --ca-file agency-ca.pem \
      --token $TOKEN
"""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "gateway",
        help="HTTP + UDP/TCP NMEA sensor gateway with a local spool",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=formatter(),
    )
    p.add_argument(
        "--host", help="HTTP listen address (default: BORDERFUSION_GATEWAY_HOST, 127.0.0.1)"
    )
    p.add_argument("--port", type=int, help="HTTP port (default: BORDERFUSION_GATEWAY_PORT, 8088)")
    p.add_argument(
        "--tokens", metavar="FILE", help="tokens YAML (default: BORDERFUSION_GATEWAY_TOKENS_FILE)"
    )
    p.add_argument(
        "--spool",
        metavar="DIR",
        help="spool directory (default: BORDERFUSION_SPOOL_DIR or DATA_DIR/spool)",
    )
    p.add_argument(
        "--spool-max-mb",
        type=float,
        metavar="MB",
        help="refuse readings (503 + Retry-After) once this many MiB wait in the spool for "
        "Kafka (default: BORDERFUSION_SPOOL_MAX_MB, 0 = no cap)",
    )
    p.add_argument(
        "--spool-min-free-mb",
        type=float,
        metavar="MB",
        help="refuse readings rather than spool into the file system's last MB MiB "
        "(default: BORDERFUSION_SPOOL_MIN_FREE_MB, 256)",
    )
    p.add_argument(
        "--sensors", metavar="FILE", help="sensor registry (default: BORDERFUSION_SENSORS_FILE)"
    )
    p.add_argument(
        "--tls-cert",
        metavar="PEM",
        help="serve HTTPS with this certificate chain (default: BORDERFUSION_GATEWAY_TLS_CERT; "
        "unset: plain HTTP, which sends every token in clear)",
    )
    p.add_argument(
        "--tls-key",
        metavar="PEM",
        help="the certificate's private key, chmod 600 (default: "
        "BORDERFUSION_GATEWAY_TLS_KEY; unset: in --tls-cert)",
    )
    p.add_argument(
        "--tls-client-ca",
        metavar="PEM",
        help="mutual TLS: senders must present a client certificate signed by this CA "
        "(default: BORDERFUSION_GATEWAY_TLS_CLIENT_CA)",
    )
    add_bootstrap_flag(p)
    p.add_argument(
        "--nmea-udp",
        action="append",
        default=[],
        metavar="HOST:PORT=STATION",
        help="listen for AIS NMEA datagrams from STATION (repeatable)",
    )
    p.add_argument(
        "--nmea-tcp",
        action="append",
        default=[],
        metavar="HOST:PORT=STATION",
        help="accept TCP connections streaming AIS NMEA lines from STATION",
    )
    p.add_argument(
        "--max-body",
        type=int,
        default=4 * 1024 * 1024,
        metavar="BYTES",
        help="largest accepted HTTP body (413 above; default 4 MiB)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=50.0,
        metavar="REQ_PER_S",
        help="default per-token request rate (429 above; default 50/s, burst 2x)",
    )
    p.add_argument(
        "--sensor-rate-multiple",
        type=float,
        default=3.0,
        metavar="X",
        help="each sensor may send X times its nominal reading rate (excess: rate_limited); "
        "0 turns the per-sensor limit off (default 3)",
    )
    p.add_argument(
        "--deadletter-rate",
        type=float,
        default=5.0,
        metavar="PER_S",
        help="dead letters per second per sender, sensor and reason; refusals past it are "
        "counted in the next dead letter's 'count' instead of one record each, so a flood "
        "of bad or rate-limited readings does not flood the deadletter topic; 0: one dead "
        "letter for every refusal (default 5)",
    )
    p.set_defaults(func=run)

    tsub = p.add_subparsers(dest="gateway_command", metavar="SUBCOMMAND")
    t = tsub.add_parser(
        "token",
        help="generate a token and print its tokens-file entry",
        description="Generate a random token. The YAML entry (with the token's SHA-256 only)\n"
        "goes to stdout, ready to append under `tokens:`; the token itself goes to\n"
        "stderr once: give it to the sender, it is not stored anywhere.",
        epilog="example:\n  borderfusion gateway token --name post-3 --sensors R1,T1 --hmac "
        ">> tokens.yaml",
        formatter_class=formatter(),
    )
    t.add_argument("--name", required=True, help="who holds the token (shown in logs)")
    t.add_argument("--sensors", required=True, help='comma-separated sensor ids, or "*"')
    t.add_argument(
        "--hmac",
        action="store_true",
        help="also generate an hmac_key: requests must then be signed",
    )
    t.set_defaults(func=run_token)


def run_token(args: argparse.Namespace) -> int:
    import yaml

    from sensors.gateway.auth import new_token_entry

    sensors = [s.strip() for s in args.sensors.split(",") if s.strip()]
    token, entry = new_token_entry(args.name, sensors, with_hmac=args.hmac)
    print(yaml.safe_dump([entry], sort_keys=False).rstrip())
    print(f"token for {args.name}: {token}", file=sys.stderr)
    if args.hmac:
        print("hmac_key (sign requests with it: X-Borderfusion-Timestamp, "
              "X-Borderfusion-Signature over <timestamp>.<body>; docs/gateway.md): "
              f"{entry['hmac_key']}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    from sensors.gateway.core import GatewayMetrics
    from sensors.gateway.http import HttpConfig
    from sensors.gateway.nmea import ListenSpec
    from sensors.gateway.ratelimit import SensorRateConfig
    from sensors.gateway.service import GatewayConfig, prometheus_exposition, serve
    from sensors.tls import TlsConfigError
    from streams import metrics, redaction
    from streams.kafka_security import client_options

    settings = settings_from_args(
        args,
        **bootstrap_overrides(args),
        gateway_host=args.host,
        gateway_port=args.port,
        gateway_tokens_file=args.tokens,
        spool_dir=args.spool,
        spool_max_mb=args.spool_max_mb,
        spool_min_free_mb=args.spool_min_free_mb,
        sensors_file=args.sensors,
        gateway_tls_cert=args.tls_cert,
        gateway_tls_key=args.tls_key,
        gateway_tls_client_ca=args.tls_client_ca,
    )
    setup_logging(settings.log_level, settings.secret_values())
    logging.getLogger("kafka").setLevel(logging.WARNING)  # its INFO is per-connection noise
    if settings.sensors_file is None:
        raise SystemExit(
            "borderfusion gateway: a sensor registry is needed "
            "(--sensors or BORDERFUSION_SENSORS_FILE)"
        )
    try:
        udp = [ListenSpec.parse(s) for s in args.nmea_udp]
        tcp = [ListenSpec.parse(s) for s in args.nmea_tcp]
    except ValueError as exc:
        raise SystemExit(f"borderfusion gateway: {exc}") from exc
    config = GatewayConfig(
        bootstrap=settings.kafka_bootstrap,
        spool_dir=Path(settings.spool_path),
        sensors_file=Path(settings.sensors_file),
        tokens_file=settings.gateway_tokens_file,
        topic_prefix=settings.topic_prefix,
        host=settings.gateway_host,
        port=settings.gateway_port,
        kafka_kwargs=client_options(settings),
        nmea_udp=udp,
        nmea_tcp=tcp,
        max_age_s=settings.max_reading_age_s,
        http=HttpConfig(max_body_bytes=args.max_body, rate_per_s=args.rate, burst=2 * args.rate),
        metrics=GatewayMetrics(
            accepted=metrics.READINGS_ACCEPTED,
            rejected=metrics.READINGS_REJECTED,
            spooled=metrics.READINGS_SPOOLED,
            depth=metrics.SPOOL_DEPTH,
            latency=metrics.INGEST_LATENCY,
        ),
        metrics_exposition=prometheus_exposition,
        sensor_rate=SensorRateConfig(
            multiple=args.sensor_rate_multiple or 1.0, enabled=args.sensor_rate_multiple > 0
        ),
        deadletter_per_s=args.deadletter_rate,
        on_secrets=lambda keys: redaction.register(*keys),  # masked in every log line
        spool_max_bytes=int(settings.spool_max_mb * 1024 * 1024),
        spool_min_free_bytes=int(settings.spool_min_free_mb * 1024 * 1024),
        tls_cert=settings.gateway_tls_cert,
        tls_key=settings.gateway_tls_key,
        tls_client_ca=settings.gateway_tls_client_ca,
    )
    scheme = "https" if config.tls_cert else "http"
    print(
        f"gateway: {scheme}://{config.host}:{config.port}  spool={config.spool_dir}  "
        f"kafka={config.bootstrap}",
        file=sys.stderr,
        flush=True,
    )
    try:
        serve(config)
    except TlsConfigError as exc:
        raise SystemExit(f"borderfusion gateway: {exc}") from exc
    return 0
