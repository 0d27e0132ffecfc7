"""Test certificates made with the ``openssl`` command: an agency CA with a server
certificate for 127.0.0.1/localhost and a client certificate, and a rogue CA with one."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(d: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=d,
    )


def _signed(d: Path, name: str, ca: str, ext: str) -> None:
    (d / f"{name}.ext").write_text(ext)
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d,
    )
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
        cwd=d,
    )
    os.chmod(d / f"{name}.key", 0o600)


def make_pki(d: Path) -> Path:
    """In ``d``: ``ca``, ``rogue`` (CAs), ``server`` (127.0.0.1, localhost; by ``ca``),
    ``sensor`` (client, by ``ca``), ``intruder`` (client, by ``rogue``): ``.pem`` + ``.key``."""
    _ca(d, "ca")
    _ca(d, "rogue")
    _signed(d, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                               "extendedKeyUsage=serverAuth\n")
    _signed(d, "sensor", "ca", "extendedKeyUsage=clientAuth\n")
    _signed(d, "intruder", "rogue", "extendedKeyUsage=clientAuth\n")
    return d
