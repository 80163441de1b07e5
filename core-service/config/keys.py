"""The RSA key that signs user tokens. Created on first setup (outside git,
mode 0600); in production it must already exist."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from config.env import ImproperlyConfigured


@dataclass(frozen=True)
class SigningKey:
    private_pem: str
    public_pem: str
    kid: str
    jwk: dict
    # The parsed key: signing with it skips re-parsing the PEM (~40 ms of
    # RSA key validation) on every token.
    private_key: rsa.RSAPrivateKey = field(repr=False, compare=False, default=None)


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _build(private_key: rsa.RSAPrivateKey) -> SigningKey:
    numbers = private_key.public_key().public_numbers()
    n, e = _b64url_uint(numbers.n), _b64url_uint(numbers.e)
    # RFC 7638 thumbprint: stable kid derived from the key itself.
    canonical = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"), sort_keys=True)
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    jwk = {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": n, "e": e}
    return SigningKey(
        private_pem=private_pem, public_pem=public_pem, kid=kid, jwk=jwk, private_key=private_key
    )


def load_or_create_signing_key(path: str, *, create: bool) -> SigningKey:
    key_path = Path(path)
    if not key_path.exists():
        if not create:
            raise ImproperlyConfigured(f"JWT private key not found at {key_path}")
        key_path.parent.mkdir(parents=True, exist_ok=True)
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # Write-then-rename so two processes starting together never read a half file.
        tmp = key_path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        try:
            os.link(tmp, key_path)  # fails if another process won the race
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ImproperlyConfigured("JWT private key must be an RSA key")
    return _build(loaded)
