"""Kafka over SASL/TLS (issue 9): the settings checked once, and every client library the
platform uses connecting to a broker that requires it.

The broker tests start their own Apache Kafka with two authenticated listeners (SASL_SSL with
PLAIN and SCRAM-SHA-512 users; SSL requiring a client certificate), using certificates made
with ``openssl`` (``tests/tls_certs.py``). They run in the Apache Kafka suite; the embedded
Tansu has no such listeners.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaError

from streams.kafka_security import client_options, faust_credentials, kafka_security
from streams.settings import Settings, SettingsError
from streams.topics import ensure_topics
from tests.kafka_kraft import SecureListeners, start_kraft
from tests.kafka_utils import ROOT, TopicReader, flatten, start_worker, stop_process
from tests.tls_certs import make_pki

USERS = {"borderfusion": "bf-kafka-secret-1", "intruder-guess": "x" * 12}


# ---------------------------------------------------------------- the settings, checked


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kafka_security_protocol": "SASL_TLS"}, "choose from PLAINTEXT, SSL"),
        ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "u"},
         "needs kafka_sasl_username and kafka_sasl_password"),
        ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "GSSAPI",
          "kafka_sasl_username": "u", "kafka_sasl_password": "p"}, "choose from PLAIN, SCRAM"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": Path("k.pem")},
         "kafka_ssl_keyfile is set without kafka_ssl_certfile"),
        ({"kafka_ssl_cafile": Path("ca.pem")}, "use SSL or SASL_SSL"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_cafile": Path("/nonexistent/ca.pem")},
         "Kafka TLS file not found: /nonexistent/ca.pem"),
    ],
)
def test_settings_that_cannot_connect_are_refused_with_the_reason(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        client_options(Settings(**changes))


def test_every_client_library_gets_the_same_checked_security(tmp_path: Path) -> None:
    assert client_options(Settings()) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(Settings()) is None
    s = Settings(kafka_security_protocol="sasl_ssl", kafka_sasl_username="bf",
                 kafka_sasl_password="secret-1")
    opts = client_options(s)
    # SASL without a mechanism is PLAIN for every client (two services used to send none)
    assert opts["security_protocol"] == "SASL_SSL" and opts["sasl_mechanism"] == "PLAIN"
    ctx = opts["ssl_context"]
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname  # the broker is verified
    creds = faust_credentials(s)
    assert (creds.username, creds.mechanism.value) == ("bf", "PLAIN")
    assert kafka_security(s.with_overrides(kafka_sasl_mechanism="scram-sha-512")).mechanism == (
        "SCRAM-SHA-512")


def test_commands_stop_with_the_reason_not_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "BORDERFUSION_KAFKA_SECURITY_PROTOCOL": "SSL",
           "BORDERFUSION_KAFKA_SSL_CAFILE": str(tmp_path / "missing-ca.pem")}
    out = subprocess.run([sys.executable, "-m", "streams.cli", "push", os.devnull],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip() == f"borderfusion: Kafka TLS file not found: {tmp_path}/missing-ca.pem"


# ---------------------------------------------------------------- against a real broker


@pytest.fixture(scope="module")
def secure(broker_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[SecureListeners, Path]]:
    if broker_kind != "kafka":
        pytest.skip("the embedded Tansu has no SASL/TLS listener: runs with --broker=kafka")
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl")
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    keystore = pki / "server-keystore.pem"
    keystore.write_text((pki / "server.key").read_text() + (pki / "server.pem").read_text())
    listeners = SecureListeners(keystore=keystore, client_ca=pki / "ca.pem", users=USERS)
    with start_kraft(workdir=tmp_path_factory.mktemp("kraft-secure"), secure=listeners):
        yield listeners, pki


def _settings(bootstrap: str, prefix: str, **security: Any) -> Settings:
    return Settings(kafka_bootstrap=bootstrap, topic_prefix=prefix, partitions=2, **security)


def _round_trip(settings: Settings) -> Any:
    """Create the topics, produce one record and read it back, all with ``settings``."""
    ensure_topics(settings)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap,
                             **client_options(settings))
    try:
        producer.send(settings.topic("alerts"), b'{"ok":1}', partition=0).get(timeout=30)
    finally:
        producer.close()
    reader = TopicReader(settings.kafka_bootstrap, settings.topic("alerts"),
                         **client_options(settings))
    try:
        return reader.wait_for(lambda v: len(v) == 1, timeout_s=30)
    finally:
        reader.close()


@pytest.mark.broker
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_sasl_ssl_with_either_mechanism(
    secure: tuple[SecureListeners, Path], topic_prefix: str, mechanism: str
) -> None:
    listeners, pki = secure
    s = _settings(listeners.sasl_ssl_bootstrap, topic_prefix,
                  kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism=mechanism,
                  kafka_sasl_username="borderfusion", kafka_sasl_password=USERS["borderfusion"],
                  kafka_ssl_cafile=pki / "ca.pem")
    assert _round_trip(s) == [{"ok": 1}]


@pytest.mark.broker
def test_ssl_with_a_client_certificate(
    secure: tuple[SecureListeners, Path], topic_prefix: str
) -> None:
    listeners, pki = secure
    s = _settings(listeners.ssl_bootstrap, topic_prefix, kafka_security_protocol="SSL",
                  kafka_ssl_cafile=pki / "ca.pem", kafka_ssl_certfile=pki / "sensor.pem",
                  kafka_ssl_keyfile=pki / "sensor.key")
    assert _round_trip(s) == [{"ok": 1}]


@pytest.mark.broker
@pytest.mark.parametrize("case", ["wrong password", "no client certificate",
                                  "broker not trusted"])
def test_a_client_the_broker_or_the_client_refuses_gets_nothing_through(
    secure: tuple[SecureListeners, Path], topic_prefix: str, case: str
) -> None:
    listeners, pki = secure
    if case == "wrong password":
        s = _settings(listeners.sasl_ssl_bootstrap, topic_prefix,
                      kafka_security_protocol="SASL_SSL", kafka_sasl_username="borderfusion",
                      kafka_sasl_password="not-the-password", kafka_ssl_cafile=pki / "ca.pem")
    elif case == "no client certificate":
        s = _settings(listeners.ssl_bootstrap, topic_prefix, kafka_security_protocol="SSL",
                      kafka_ssl_cafile=pki / "ca.pem")
    else:  # the client verifies the broker against another CA: it must not talk to it
        s = _settings(listeners.sasl_ssl_bootstrap, topic_prefix,
                      kafka_security_protocol="SASL_SSL", kafka_sasl_username="borderfusion",
                      kafka_sasl_password=USERS["borderfusion"],
                      kafka_ssl_cafile=pki / "rogue.pem")
    t0 = time.monotonic()
    with pytest.raises(KafkaError):
        producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, max_block_ms=5000,
                                 request_timeout_ms=5000, bootstrap_timeout_ms=5000,
                                 **client_options(s))
        try:
            producer.send(s.topic("alerts"), b"{}").get(timeout=10)
        finally:
            producer.close(timeout=1)
    assert time.monotonic() - t0 < 30


SENSORS = """\
sensors:
  - {id: R1, type: radar, lat: 51.50, lon: 30.50, height_m: 20, max_range_m: 20000,
     sigma_range_m: 10, sigma_bearing_deg: 0.5, scan_period_s: 1}
"""


@pytest.mark.broker
@pytest.mark.slow
def test_push_and_a_worker_over_sasl_ssl(
    secure: tuple[SecureListeners, Path], topic_prefix: str, tmp_path: Path
) -> None:
    """The platform's own processes, configured only by environment as a deployment is:
    ``borderfusion push`` (kafka-python) → the ingest agent (Faust over aiokafka) →
    ``observations``, read back over SCRAM-SHA-512."""
    listeners, pki = secure
    env = {
        "BORDERFUSION_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "BORDERFUSION_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "BORDERFUSION_KAFKA_SASL_USERNAME": "borderfusion",
        "BORDERFUSION_KAFKA_SASL_PASSWORD": USERS["borderfusion"],
        "BORDERFUSION_KAFKA_SSL_CAFILE": str(pki / "ca.pem"),
        "BORDERFUSION_SENSORS_FILE": str(tmp_path / "sensors.yaml"),
        "BORDERFUSION_DATA_DIR": str(tmp_path / "var"),
    }
    (tmp_path / "sensors.yaml").write_text(SENSORS)
    readings = tmp_path / "readings.jsonl"
    readings.write_text(json.dumps({"topic": "readings.radar", "value": {
        "sensor_id": "R1", "t": time.time(), "range_m": 1000.0, "bearing_deg": 90.0}}) + "\n")
    bootstrap = listeners.sasl_ssl_bootstrap
    s = _settings(bootstrap, topic_prefix, kafka_security_protocol="SASL_SSL",
                  kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="borderfusion",
                  kafka_sasl_password=USERS["borderfusion"], kafka_ssl_cafile=pki / "ca.pem")
    worker = start_worker(bootstrap, topic_prefix, env, ["ingest"], tmp_path / "worker.log")
    try:
        push = subprocess.run(
            [sys.executable, "-m", "streams.cli", "push", str(readings), "--bootstrap",
             bootstrap, "--topic-prefix", topic_prefix],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**os.environ, **env})
        assert push.returncode == 0, push.stderr
        reader = TopicReader(bootstrap, s.topic("observations"), **client_options(s))
        try:
            obs = flatten(reader.wait_for(lambda v: len(flatten(v)) >= 1, timeout_s=90))
        finally:
            reader.close()
    finally:
        stop_process(worker)
    assert {o["sensor_id"] for o in obs} == {"R1"}
    log = (tmp_path / "worker.log").read_text()
    assert USERS["borderfusion"] not in log
