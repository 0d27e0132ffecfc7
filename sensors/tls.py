"""TLS for the gateway's and the web UI's listeners, and for the gateway's clients.

Gateways sit at border posts and take readings over networks the agency does not own
(leased lines, mobile data, a shared VPN). Without TLS the bearer token of every request
crosses that network in clear: one capture and the capturer can report for the sensor. So
the gateway can serve HTTPS itself (``--tls-cert``/``--tls-key``), with TLS 1.2 as the
floor, and optionally ask senders for a client certificate signed by the agency's CA
(``--tls-client-ca``: mutual TLS, a stolen token alone is then not enough). A reverse proxy
in front remains a valid alternative. The web UI (``BORDERFUSION_WEB_TLS_CERT``) uses the
same server context: coordinators' passwords and session cookies stay off the wire.
"""

from __future__ import annotations

import logging
import ssl
import stat
from pathlib import Path

log = logging.getLogger(__name__)


class TlsConfigError(ValueError):
    """The certificate files do not make a usable TLS context (the message says why)."""


def server_context(
    cert: Path | None, key: Path | None = None, client_ca: Path | None = None
) -> ssl.SSLContext | None:
    """A server context from a PEM certificate chain and its private key (``key`` None: in
    ``cert``); None without a certificate (plain HTTP), an error for a key or client CA
    without one. With ``client_ca`` a client certificate is asked for and, when presented,
    must be one that CA signed (else the handshake fails); a connection without one is
    let through the handshake so that probes and Prometheus reach /healthz and /metrics —
    ``HttpConfig.require_client_cert`` refuses it on /ingest."""
    if cert is None:
        if key is not None or client_ca is not None:
            raise TlsConfigError("a TLS key or client CA needs a certificate")
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    for path in (cert, key, client_ca):
        if path is not None and not Path(path).is_file():
            raise TlsConfigError(f"TLS file not found: {path}")
    if key is not None:
        _warn_if_readable(Path(key))
    try:
        ctx.load_cert_chain(str(cert), str(key) if key is not None else None)
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(
            f"cannot use certificate {cert} with key {key or cert}: {exc}"
        ) from exc
    if client_ca is not None:
        try:
            ctx.load_verify_locations(cafile=str(client_ca))
        except (ssl.SSLError, OSError) as exc:
            raise TlsConfigError(f"cannot read client CA {client_ca}: {exc}") from exc
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def client_context(
    ca_file: Path | None = None, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    """A client context that verifies the gateway against ``ca_file`` (None: the system's
    trust store), presenting ``cert``/``key`` when the gateway asks for mutual TLS."""
    try:
        ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        if cert is not None:
            ctx.load_cert_chain(str(cert), str(key) if key is not None else None)
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(f"cannot set up TLS for the gateway client: {exc}") from exc
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _warn_if_readable(key: Path) -> None:
    if key.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("TLS private key is readable by group or others; chmod 600 it",
                    extra={"path": str(key)})
