"""Kafka client security from the settings, for each client library the platform uses.

Every connection must authenticate the same way: the Faust app (aiokafka underneath), the
plain aiokafka clients (the web's live view, alert delivery, the archive) and the kafka-python
ones (topic admin, the gateway's producer, ``push``, ``simulate --live``, replay). Three
hand-written copies of the aiokafka options had drifted apart (one defaulted the SASL
mechanism to PLAIN, two sent none, so ``SASL_SSL`` without a mechanism failed in some
services only); one module now builds all of them from one checked reading of the settings.

Settings (``BORDERFUSION_KAFKA_…``, docs/security.md): ``SECURITY_PROTOCOL`` (PLAINTEXT, SSL,
SASL_PLAINTEXT, SASL_SSL), ``SASL_MECHANISM`` (PLAIN by default; SCRAM-SHA-256/512),
``SASL_USERNAME``/``SASL_PASSWORD``, ``SSL_CAFILE`` (else the system's CAs) and, for brokers
that authenticate clients by certificate, ``SSL_CERTFILE``/``SSL_KEYFILE``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from streams.settings import Settings, SettingsError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class KafkaSecurity:
    """The settings' Kafka security, checked: what every client builder reads."""

    protocol: str
    mechanism: str | None  # None: no SASL
    username: str | None
    password: str | None
    cafile: str | None
    certfile: str | None
    keyfile: str | None

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """Verifies the broker (the given CA, else the system's) and its host name; presents
        the client certificate when one is configured. ``None`` without TLS."""
        if not self.tls:
            return None
        ctx = ssl.create_default_context(cafile=self.cafile)
        if self.certfile:
            ctx.load_cert_chain(self.certfile, self.keyfile)
        return ctx


def kafka_security(settings: Settings) -> KafkaSecurity:
    """Read and check the settings; a :class:`SettingsError` names what is wrong, so a
    worker or gateway stops at start-up instead of retrying a connection that cannot work."""
    proto = settings.kafka_security_protocol.upper()
    if proto not in PROTOCOLS:
        raise SettingsError(f"kafka_security_protocol {settings.kafka_security_protocol!r}: "
                            f"choose from {', '.join(PROTOCOLS)}")
    mechanism = None
    if proto.startswith("SASL"):
        mechanism = (settings.kafka_sasl_mechanism or "PLAIN").upper()
        if mechanism not in MECHANISMS:
            raise SettingsError(f"kafka_sasl_mechanism {settings.kafka_sasl_mechanism!r}: "
                                f"choose from {', '.join(MECHANISMS)}")
        if not settings.kafka_sasl_username or not settings.kafka_sasl_password:
            raise SettingsError(f"kafka_security_protocol {proto} needs kafka_sasl_username "
                                "and kafka_sasl_password")
    certfile, keyfile = settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile
    if keyfile and not certfile:
        raise SettingsError("kafka_ssl_keyfile is set without kafka_ssl_certfile")
    files = [f for f in (settings.kafka_ssl_cafile, certfile, keyfile) if f]
    if files and proto not in ("SSL", "SASL_SSL"):
        raise SettingsError(f"kafka_ssl_* files are set but kafka_security_protocol is {proto}: "
                            "use SSL or SASL_SSL")
    for f in files:
        if not f.is_file():
            raise SettingsError(f"Kafka TLS file not found: {f}")
    return KafkaSecurity(
        protocol=proto,
        mechanism=mechanism,
        username=settings.kafka_sasl_username if mechanism else None,
        password=settings.kafka_sasl_password if mechanism else None,
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
        certfile=str(certfile) if certfile else None,
        keyfile=str(keyfile) if keyfile else None,
    )


def faust_credentials(settings: Settings) -> Any:
    """``broker_credentials`` for the Faust app (``None``: plain connections)."""
    import faust

    sec = kafka_security(settings)
    if sec.protocol == "PLAINTEXT":
        return None
    if sec.mechanism:
        return faust.SASLCredentials(username=sec.username, password=sec.password,
                                     mechanism=sec.mechanism, ssl_context=sec.ssl_context())
    return faust.SSLCredentials(sec.ssl_context())


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiokafka's and kafka-python's clients alike (producer,
    consumer, admin): both take these names, and both use ``ssl_context`` as given."""
    sec = kafka_security(settings)
    opts: dict[str, Any] = {"security_protocol": sec.protocol}
    if sec.tls:
        opts["ssl_context"] = sec.ssl_context()
    if sec.mechanism:
        opts.update(sasl_mechanism=sec.mechanism, sasl_plain_username=sec.username,
                    sasl_plain_password=sec.password)
    return opts
