"""The local cluster's PKI: a CA, the API server's serving certificate, client certificates.

Users are client certificates (CN = user name, O = groups), as in envtest. The service-account
key pair lets the API server issue tokens (TokenRequest), so tests can act as a ServiceAccount.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=365)


@dataclass(frozen=True)
class KeyPair:
    certificate: Path
    key: Path


@dataclass(frozen=True)
class ClusterPki:
    ca: KeyPair
    serving: KeyPair
    admin: KeyPair
    service_account_public: Path
    service_account_private: Path


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _load(
    pair: KeyPair,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey]:
    """A CA's certificate and key: ours are EC, kubeadm's (a kind cluster's) are RSA."""
    certificate = x509.load_pem_x509_certificate(pair.certificate.read_bytes())
    key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    return certificate, key


def _issue(
    directory: Path,
    stem: str,
    subject: x509.Name,
    ca: KeyPair | None,
    usage: x509.ObjectIdentifier | None,
    now: dt.datetime,
) -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    signing_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if ca is None:
        issuer_name, signing_key = subject, key
    else:
        ca_certificate, signing_key = _load(ca)
        issuer_name = ca_certificate.subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if usage == ExtendedKeyUsageOID.SERVER_AUTH:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost"),
                    x509.DNSName("kubernetes.default.svc"),
                ]
            ),
            critical=False,
        )
    certificate = builder.sign(signing_key, hashes.SHA256())
    return KeyPair(
        certificate=_write(
            directory / f"{stem}.crt", certificate.public_bytes(serialization.Encoding.PEM)
        ),
        key=_write(directory / f"{stem}.key", _pem_key(key)),
    )


def issue_client_certificate(
    ca: KeyPair, directory: Path, user: str, groups: tuple[str, ...], now: dt.datetime
) -> KeyPair:
    """A client certificate for `user` in `groups` signed by `ca`, as the API server
    authenticates them (the embedded platform's CA, or a kind cluster's)."""
    stem = "user-" + "".join(c if c.isalnum() else "-" for c in user)
    return _issue(directory, stem, _name(user, groups), ca, ExtendedKeyUsageOID.CLIENT_AUTH, now)


def ensure_pki(directory: Path, now: dt.datetime) -> ClusterPki:
    """Create the PKI once; later calls reuse it so kubeconfigs already handed out stay valid."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = KeyPair(directory / "ca.crt", directory / "ca.key")
    serving = KeyPair(directory / "apiserver.crt", directory / "apiserver.key")
    admin = KeyPair(directory / "admin.crt", directory / "admin.key")
    sa_public, sa_private = directory / "sa.pub", directory / "sa.key"
    if not all(p.is_file() for p in (*vars(ca).values(), *vars(serving).values(), sa_private)):
        ca = _issue(directory, "ca", _name("paved-local-ca"), None, None, now)
        serving = _issue(
            directory,
            "apiserver",
            _name("kube-apiserver"),
            ca,
            ExtendedKeyUsageOID.SERVER_AUTH,
            now,
        )
        admin = _issue(
            directory,
            "admin",
            _name("paved-admin", ("system:masters",)),
            ca,
            ExtendedKeyUsageOID.CLIENT_AUTH,
            now,
        )
        signer = ec.generate_private_key(ec.SECP256R1())
        _write(sa_private, _pem_key(signer))
        _write(
            sa_public,
            signer.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        )
    return ClusterPki(ca, serving, admin, sa_public, sa_private)
