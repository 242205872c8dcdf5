"""The sandbox's TLS identity: a throwaway certificate for Discord's host names.

discord.py always speaks https/wss to fixed host names, so the sandbox presents a self-signed certificate
for those names and the bot, pointed at the sandbox, trusts exactly that certificate (nothing is turned off).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: Host names discord.py connects to (REST, gateway, voice endpoints the sandbox hands out).
DISCORD_HOSTS = (
    "discord.com",
    "*.discord.com",
    "gateway.discord.gg",
    "*.discord.gg",
    "*.discord.media",
    "localhost",
)


@dataclass(frozen=True)
class Certificate:
    """A PEM certificate and key on disk."""

    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A context that trusts this certificate only, with host name checks left on."""
        return ssl.create_default_context(cafile=str(self.cert_file))


def create_certificate(directory: Path) -> Certificate:
    """Write a fresh self-signed certificate for `DISCORD_HOSTS` (and 127.0.0.1) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "QuranBot Discord sandbox")])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName(
        [x509.DNSName(host) for host in DISCORD_HOSTS] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # valid from two days back, as Discord's own certificates are long before and after now: a bot
        # whose wall clock steps back an hour (the soak's NTP fault) must still trust it
        .not_valid_before(now - datetime.timedelta(days=2))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "sandbox-cert.pem"
    key_file = directory / "sandbox-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return Certificate(cert_file, key_file)
