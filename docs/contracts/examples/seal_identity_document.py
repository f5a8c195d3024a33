#!/usr/bin/env python3
"""Seal an identity document for registration.submitted (contract 1.2, `sealedIdentityDocument`).

HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, with
pyhpke from PyPI (`pip install pyhpke`). The registrations service's public key is given by its
operators (`registrations document-keys public`) as `id:base64`.

    python3 seal_identity_document.py --key r2026:BASE64 --reference NIC-2026-0042 < document.json

reads the document (`{"kind": "passport", "number": …, "issuingCountry": …, "fullName": …,
"expiresOn": …}`) on standard input and prints the `sealedIdentityDocument` object to put in
the delegate instead of `identityDocument`.
"""
import argparse
import base64
import json
import sys

from pyhpke import AEADId, CipherSuite, KDFId, KEMId, KEMKey

INFO = b"delegation identity-document v1"
SUITE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM)


def seal(document: dict, key_spec: str, reference: str) -> dict:
    key_id, _, raw = key_spec.partition(":")
    public = base64.b64decode(raw)
    if not key_id or len(public) != 32:
        raise SystemExit("--key must be id:base64 of a 32-byte X25519 public key")
    recipient = KEMKey.from_jwk(
        {"kty": "OKP", "crv": "X25519", "x": base64.urlsafe_b64encode(public).rstrip(b"=").decode()})
    enc, sender = SUITE.create_sender_context(recipient, info=INFO)
    # The registration's reference is the additional data: the sealed document opens for it only.
    ciphertext = sender.seal(json.dumps(document, ensure_ascii=False).encode(), aad=reference.encode())
    return {
        "suite": "hpke-x25519-sha256-aes256gcm",
        "keyID": key_id,
        "enc": base64.b64encode(enc).decode(),
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--key", required=True, help="the registrations service's public key, id:base64")
    parser.add_argument("--reference", required=True, help="the registration's reference")
    args = parser.parse_args()
    print(json.dumps(seal(json.load(sys.stdin), args.key, args.reference), indent=2))


if __name__ == "__main__":
    main()
