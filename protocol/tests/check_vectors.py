#!/usr/bin/env python3
"""Independent check of the seednet protocol test vectors.

A second implementation, in Python, of the layers of docs/PROTOCOL.md that a
foreign node needs first: RFC 8785 canonical form (the `rfc8785` package), the
integer-only number rule, the domain-separated signed message, SHA-256 version
hashes and strict ed25519 verification (PyNaCl / libsodium, which refuses
small-order keys and R values). Content rules (field limits, enums) are the
Rust implementation's job; for vectors that fail on content only, this script
checks that every other layer passes.

Usage: python3 check_vectors.py [VECTOR_DIR]   (exit 1 on any disagreement)
"""

import hashlib
import json
import pathlib
import sys

import nacl.bindings
import nacl.exceptions
import nacl.signing
import rfc8785

CONTEXTS = {
    "record": b"seednet record v1",
    "node_descriptor": b"seednet node descriptor v1",
}
SAFE_INTEGER_MAX = 2**53 - 1

def is_weak_key(key: bytes) -> bool:
    """True for keys that are not valid points or have small order
    (libsodium's crypto_core_ed25519_is_valid_point refuses both)."""
    return len(key) != 32 or not nacl.bindings.crypto_core_ed25519_is_valid_point(key)


def numbers_ok(value) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, float):
        return False
    if isinstance(value, int):
        return abs(value) <= SAFE_INTEGER_MAX
    if isinstance(value, list):
        return all(numbers_ok(item) for item in value)
    if isinstance(value, dict):
        return all(numbers_ok(item) for item in value.values())
    raise TypeError(type(value))


def check(path: pathlib.Path) -> list:
    vector = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    presented = vector["canonical"].encode("utf-8")
    context = CONTEXTS[vector["object"]]
    message = context + b"\x00" + presented

    if hashlib.sha256(presented).hexdigest() != vector["sha256_hex"]:
        problems.append("sha256 differs")
    if message.hex() != vector["signed_message_hex"]:
        problems.append("signed message differs")
    if vector["secret_key_seed_hex"] is not None:
        seed = bytes.fromhex(vector["secret_key_seed_hex"])
        derived = nacl.signing.SigningKey(seed).verify_key.encode().hex()
        if derived != vector["public_key_hex"]:
            problems.append("public key does not derive from the seed")

    parsed = json.loads(presented)
    signer_field = "origin" if vector["object"] == "record" else "node_id"
    signer = bytes.fromhex(parsed[signer_field])
    key_ok = not is_weak_key(signer)
    try:
        nacl.signing.VerifyKey(signer).verify(message, bytes.fromhex(vector["signature_hex"]))
        signature_ok = True
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        signature_ok = False
    number_rule_ok = numbers_ok(parsed)
    try:
        canonical_ok = rfc8785.dumps(parsed) == presented
    except (rfc8785.IntegerDomainError, rfc8785.FloatDomainError):
        canonical_ok = False

    layers = {
        "weak_key": key_ok,
        "signature": signature_ok,
        "number": number_rule_ok,
        "canonical": canonical_ok,
    }
    first_failure = next((name for name, ok in layers.items() if not ok), None)
    expected = vector.get("failure")
    if vector["valid"]:
        if first_failure is not None:
            problems.append(f"valid vector fails the {first_failure} layer")
        if rfc8785.dumps(vector["record"]) != presented:
            problems.append("canonical is not the JCS form of record")
    elif expected == "content":
        if first_failure is not None:
            problems.append(f"content-failure vector already fails the {first_failure} layer")
    elif expected == "weak_key":
        if key_ok or signature_ok:
            problems.append("weak key accepted")
    elif expected == "number":
        if number_rule_ok:
            problems.append("number rule not broken")
    elif first_failure != expected:
        problems.append(f"expected failure {expected}, independent check says {first_failure}")
    return problems


def main() -> int:
    directory = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent / "vectors")
    files = sorted(directory.glob("*.json"))
    if len(files) < 12:
        print(f"only {len(files)} vectors in {directory}")
        return 1
    failed = 0
    for path in files:
        problems = check(path)
        status = "ok" if not problems else "FAIL: " + "; ".join(problems)
        print(f"{path.name}: {status}")
        failed += bool(problems)
    print(f"{len(files) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
