"""Field encryption and hashing next to the raw primitives, and login requests/s.

Prints, in one run:
- SM4-GCM and AES-256-GCM MB/s through our field cipher (Keyring.encrypt/decrypt of 1 KiB
  values) next to the library's raw primitive on the same sizes;
- SM3 hashes/s (64-byte inputs) through our helper next to the raw `hashes.Hash`, and blind
  indexes/s (HMAC-SM3);
- field encryptions/s of a typical value (an ID number), the hot path of creating a person;
- login requests/s over HTTP (argon2 verify dominates) next to /healthz.

Run: `python bench/crypto.py`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import text

from support.server import demo_server
from tongban.crypto.primitives import Aead, hmac_sm3, sm3
from tongban.crypto.service import Kek, Keyring
from tongban.db import make_engine, make_sessionmaker, transaction
from tongban.migrate import upgrade
from tongban.settings import sqlite_url


def rate(fn: Callable[[], object], seconds: float = 1.0) -> float:
    """Calls per second of fn, over about `seconds`."""
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(100):
            fn()
        n += 100
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def raw_sm4_gcm(key: bytes, data: bytes) -> Callable[[], bytes]:
    def run() -> bytes:
        enc = Cipher(algorithms.SM4(key), modes.GCM(os.urandom(12))).encryptor()
        return enc.update(data) + enc.finalize()

    return run


def raw_sm3(data: bytes) -> Callable[[], bytes]:
    def run() -> bytes:
        h = hashes.Hash(hashes.SM3())
        h.update(data)
        return h.finalize()

    return run


def bench_fields(tmp: Path) -> None:
    engine = make_engine(sqlite_url(tmp / "keys.db"))
    upgrade(engine)
    value = os.urandom(768).hex()[:1024]  # 1 KiB of text
    mib = len(value) / (1024 * 1024)
    print(f"{'field cipher, 1 KiB values':<46}{'ours MB/s':>12}{'raw MB/s':>12}{'ratio':>8}")
    for alg in Aead:
        ring = Keyring(Kek.from_bytes(os.urandom(32)), alg)
        with transaction(make_sessionmaker(engine)) as s:
            ring.ensure_keys(s)
            token = ring.encrypt(s, "bench.value", value)
            enc = rate(lambda s=s, ring=ring: ring.encrypt(s, "bench.value", value)) * mib
            dec = (
                rate(lambda s=s, ring=ring, token=token: ring.decrypt(s, "bench.value", token))
                * mib
            )
        key = os.urandom(16 if alg is Aead.SM4_GCM else 32)  # the primitive's speed is key-blind
        data = value.encode()
        if alg is Aead.SM4_GCM:
            raw = rate(raw_sm4_gcm(key, data)) * mib
        else:
            aes = AESGCM(key)
            raw = rate(lambda aes=aes, d=data: aes.encrypt(os.urandom(12), d, b"bench.value")) * mib
        print(f"  {alg.value + ' encrypt':<44}{enc:>12.1f}{raw:>12.1f}{enc / raw:>8.2f}")
        print(f"  {alg.value + ' decrypt':<44}{dec:>12.1f}{raw:>12.1f}{dec / raw:>8.2f}")
        with transaction(make_sessionmaker(engine)) as s:
            per_s = rate(
                lambda s=s, ring=ring: ring.encrypt(s, "person.id_number", "310115198001010016")
            )
            idx_s = rate(
                lambda s=s, ring=ring: ring.blind_index(s, "person.id_number", "310115198001010016")
            )
        print(f"  {alg.value + ' ID number encryptions/s':<44}{per_s:>12.0f}")
        print(f"  {'blind indexes/s (HMAC-SM3)':<44}{idx_s:>12.0f}")
        with transaction(make_sessionmaker(engine)) as s:  # the next algorithm makes its own keys
            s.execute(text("DELETE FROM data_keys"))
    engine.dispose()
    data64 = os.urandom(64)
    ours = rate(lambda: sm3(data64))
    raw = rate(raw_sm3(data64))
    key = os.urandom(32)
    mac = rate(lambda: hmac_sm3(key, data64))
    print(f"\n{'SM3, 64-byte inputs':<46}{'ours /s':>12}{'raw /s':>12}{'ratio':>8}")
    print(f"  {'sm3()':<44}{ours:>12.0f}{raw:>12.0f}{ours / raw:>8.2f}")
    print(f"  {'hmac_sm3()':<44}{mac:>12.0f}")


def bench_login(tmp: Path) -> None:
    with demo_server(tmp, "login") as base, httpx.Client(base_url=base) as c:
        body = {"username": "citizen1", "password": "Demo@2026"}
        c.post("/api/v1/auth/token", json=body).raise_for_status()
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < 3:
            c.post("/api/v1/auth/token", json=body).raise_for_status()
            n += 1
        logins = n / (time.perf_counter() - start)
        health = rate(lambda: c.get("/healthz"), 2)
    print(f"\n{'login over HTTP, one client':<46}{'req/s':>12}")
    print(f"  {'POST /api/v1/auth/token (argon2 verify)':<44}{logins:>12.1f}")
    print(f"  {'ceiling: GET /healthz':<44}{health:>12.0f}")


def main() -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores\n")
    with tempfile.TemporaryDirectory() as tmp:
        bench_fields(Path(tmp))
        bench_login(Path(tmp))


if __name__ == "__main__":
    main()
