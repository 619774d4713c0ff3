"""A self-signed serving certificate for the API server, made with the `openssl` command.

The certificate is its own certificate authority: the kubeconfig carries it as
`certificate-authority-data`, so kubectl and the official client verify the server as they
would a cluster's. Its subject alternative names are the loopback address and `localhost`.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENSSL_TIMEOUT_SECONDS = 30


class TlsUnavailableError(RuntimeError):
    """No certificate could be made (the openssl command is missing or failed)."""


@dataclass(frozen=True)
class ServingCertificate:
    cert_path: Path
    key_path: Path

    def cert_pem(self) -> bytes:
        return self.cert_path.read_bytes()


def make_certificate(directory: Path, host: str) -> ServingCertificate:
    """Write `apiserver.crt` and `apiserver.key` (EC P-256, valid 10 years) into `directory`."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TlsUnavailableError(
            "the openssl command is not installed (Debian package openssl); "
            "start the API server with tls=False to serve plain HTTP"
        )
    directory.mkdir(parents=True, exist_ok=True)
    cert = directory / "apiserver.crt"
    key = directory / "apiserver.key"
    command = [
        openssl, "req", "-x509", "-nodes", "-newkey", "ec",
        "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-keyout", str(key), "-out", str(cert), "-days", "3650",
        "-subj", "/CN=lsconform-sandbox-apiserver",
        "-addext", f"subjectAltName=IP:{host},DNS:localhost,DNS:kubernetes.default.svc",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
        "-addext", "extendedKeyUsage=serverAuth",
    ]  # fmt: skip
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=OPENSSL_TIMEOUT_SECONDS)
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", b"") or b""
        raise TlsUnavailableError(
            f"openssl could not make a certificate: {error}: {detail.decode(errors='replace')}"
        ) from error
    key.chmod(0o600)
    return ServingCertificate(cert, key)
