"""Throwaway TLS material for the stand-in API server, made inside the test session.

A cluster CA, a serving certificate it signs for IP 127.0.0.1 (what kube-apiserver's serving
certificate is to a pod: its address is in the subjectAltName), and an unrelated CA to show that
verification really happens. Keys are P-256 (fast to make) and live only in the temporary
directory they are written to; nothing here is ever committed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ServerTLS:
    """PEM files of one CA and of the server certificate it signed."""

    ca: Path
    """The CA certificate: what a pod finds in its service account's ``ca.crt``."""
    cert: Path
    """The server certificate (subjectAltName IP 127.0.0.1)."""
    key: Path
    """The server certificate's private key."""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA certificate valid from an hour ago for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue_server(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, ip: str = LOOPBACK
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A serving certificate for ``ip`` signed by the CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("kube-apiserver"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.IPv4Address(ip)), x509.DNSName("kubernetes.default")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def write_server_tls(directory: Path) -> ServerTLS:
    """A cluster CA and a server certificate for 127.0.0.1 it signed, as PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = make_ca("stand-in cluster CA")
    key, cert = issue_server(ca_key, ca_cert)
    files = ServerTLS(
        ca=directory / "ca.crt", cert=directory / "server.crt", key=directory / "server.key"
    )
    files.ca.write_bytes(_pem(ca_cert))
    files.cert.write_bytes(_pem(cert))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files.key.chmod(0o600)
    return files


def write_ca(path: Path, common_name: str = "some other CA") -> Path:
    """The certificate of a CA that signed nothing the server presents."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_pem(make_ca(common_name)[1]))
    return path
