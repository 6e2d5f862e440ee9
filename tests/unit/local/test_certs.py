from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from paved_local.certs import KeyPair, ensure_pki, issue_client_certificate

NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


def _certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _signed_by(certificate: x509.Certificate, ca: x509.Certificate) -> bool:
    public_key = ca.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    certificate.verify_directly_issued_by(ca)
    return True


def test_serving_certificate_is_signed_by_the_ca_for_loopback(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, NOW)
    ca, serving = _certificate(pki.ca.certificate), _certificate(pki.serving.certificate)
    assert _signed_by(serving, ca)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]


def test_admin_is_in_system_masters_and_users_carry_their_groups(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, NOW)
    admin = _certificate(pki.admin.certificate)
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "system:masters"
    )
    alice = issue_client_certificate(pki.ca, tmp_path, "alice@example.com", ("approvers",), NOW)
    subject = _certificate(alice.certificate).subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice@example.com"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "approvers"
    assert _signed_by(_certificate(alice.certificate), _certificate(pki.ca.certificate))


def test_pki_is_created_once_so_handed_out_kubeconfigs_stay_valid(tmp_path: Path) -> None:
    first = _certificate(ensure_pki(tmp_path, NOW).ca.certificate)
    second = _certificate(ensure_pki(tmp_path, NOW + dt.timedelta(days=1)).ca.certificate)
    assert first.serial_number == second.serial_number


def test_a_client_certificate_can_be_signed_by_kubeadms_rsa_ca(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    ca_certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "ca.crt").write_bytes(ca_certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ca.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ca = KeyPair(certificate=tmp_path / "ca.crt", key=tmp_path / "ca.key")

    alice = issue_client_certificate(ca, tmp_path, "alice", ("ml-approvers",), NOW)

    issued = x509.load_pem_x509_certificate(alice.certificate.read_bytes())
    assert issued.issuer == name
    public = ca_certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(
        issued.signature,
        issued.tbs_certificate_bytes,
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
