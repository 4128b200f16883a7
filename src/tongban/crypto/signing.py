"""The SM2 signing keys of the region and its departments: made, rotated, revoked, published.

- The region's `root` key signs the trust list (and the license status list); scanners pin
  its fingerprint.
- `code` keys (owner: the region) sign 随申码; `license` keys (owner: a department) sign the
  e-licenses that department issues.
- Exactly one key per purpose and owner is active. Rotation retires it: a retired key signs
  nothing new but stays in the trust list while anything it signed may still be shown — each
  purpose says how long that is (`PUBLISH_RETIRED`; by default, for ever, as for licenses).
- A revoked key stays listed as revoked, so verifiers can say "revoked key" instead of
  "unknown key".

Private halves are stored encrypted under the data-key hierarchy; each process keeps the
decrypted active signers and the trust list for a minute, so a rotation made by one process is
followed by all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tongban.crypto import es256, sm2
from tongban.crypto.models import SigningKey
from tongban.crypto.service import Keyring, register_encrypted
from tongban.crypto.trustlist import TrustedKey, build_document
from tongban.db import utcnow
from tongban.errors import DomainError
from tongban.settings import Settings

PRIVATE_FIELD = "signing_key.private"
ROOT = "root"
_CACHE_SECONDS = 60.0
_MIN_REFRESH_SECONDS = 5.0

# purpose -> whether a retired key of that purpose must still be published (now).
PublishRule = Callable[[Session, SigningKey, datetime], bool]
PUBLISH_RETIRED: dict[str, PublishRule] = {}

# Purposes whose keys are not SM2: JOSE (SD-JWT) has no SM2 algorithm.
ALGORITHMS = {"sdjwt": es256.ALGORITHM}

register_encrypted(SigningKey, "private_key_enc", PRIVATE_FIELD)


def _generate(alg: str) -> tuple[bytes, bytes]:
    if alg == es256.ALGORITHM:
        return es256.generate()
    pair = sm2.KeyPair.generate()
    return pair.private_key, pair.public_key


def _epoch(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def trusted_key(row: SigningKey) -> TrustedKey:
    return TrustedKey(
        kid=row.kid,
        public_key=bytes.fromhex(row.public_key),
        status=row.status,
        activated_at=_epoch(row.activated_at) or 0,
        retired_at=_epoch(row.retired_at),
        revoked_at=_epoch(row.revoked_at),
        use=row.purpose,
        owner=row.owner,
        alg=row.alg,
    )


@dataclass
class _Cached:
    value: Any
    at: float


@dataclass
class SigningKeys:
    settings: Settings
    keyring: Keyring
    _signers: dict[tuple[str, str], _Cached] = field(default_factory=dict)
    _cache: dict[str, _Cached] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def region_owner(self) -> str:
        return f"region:{self.settings.region_code}"

    # -- making keys ---------------------------------------------------------------------------

    def ensure(self, session: Session, purpose: str, owner: str) -> None:
        """An active key of this purpose and owner, made on first use."""
        if self._active_row(session, purpose, owner) is None:
            try:
                with session.begin_nested():
                    self._create(session, purpose, owner)
            except IntegrityError:
                pass  # another process made it a moment ago: use theirs

    def _create(self, session: Session, purpose: str, owner: str) -> SigningKey:
        alg = ALGORITHMS.get(purpose, sm2.ALGORITHM)
        private, public = _generate(alg)
        kid = sm2.key_id(public)
        while session.get(SigningKey, kid) is not None:  # 1 in 4 billion: draw again
            private, public = _generate(alg)
            kid = sm2.key_id(public)
        row = SigningKey(
            kid=kid,
            purpose=purpose,
            owner=owner,
            alg=alg,
            region_code=self.settings.region_code,
            public_key=public.hex(),
            private_key_enc=self.keyring.encrypt(session, PRIVATE_FIELD, private.hex()),
            status="active",
            activated_at=utcnow(),
        )
        session.add(row)
        session.flush()
        self.forget()
        return row

    def _active_row(self, session: Session, purpose: str, owner: str) -> SigningKey | None:
        return session.scalars(
            select(SigningKey).where(
                SigningKey.purpose == purpose,
                SigningKey.owner == owner,
                SigningKey.status == "active",
            )
        ).first()

    def rotate(self, session: Session, purpose: str, owner: str) -> SigningKey:
        """A new active key; the old one retires but stays published while its work lives."""
        old = session.scalars(
            select(SigningKey)
            .where(
                SigningKey.purpose == purpose,
                SigningKey.owner == owner,
                SigningKey.status == "active",
            )
            .with_for_update()
        ).first()
        if old is not None:
            old.status = "retired"
            old.retired_at = utcnow()
            session.flush()  # retire first: only one key may be active
        return self._create(session, purpose, owner)

    def revoke(self, session: Session, kid: str) -> SigningKey:
        """Stop trusting a key at once (it leaked); a new one takes over if it was active."""
        row = session.get(SigningKey, kid, with_for_update=True)
        if row is None:
            raise DomainError(
                code="signing_key_not_found",
                title="签名密钥不存在",
                title_en="No such signing key",
                status=404,
            )
        was_active = row.status == "active"
        row.status = "revoked"
        row.revoked_at = utcnow()
        session.flush()
        if was_active:
            self._create(session, row.purpose, row.owner)
        self.forget()
        return row

    def forget(self) -> None:
        with self._lock:
            self._signers.clear()
            self._cache.clear()

    # -- signing -------------------------------------------------------------------------------

    def signer(self, session: Session, purpose: str, owner: str) -> tuple[str, sm2.Sm2Signer]:
        now = time.monotonic()
        cached = self._signers.get((purpose, owner))
        if cached is not None and now - cached.at < _CACHE_SECONDS:
            kid, signer = cached.value
            if self._still_active(session, kid):
                return kid, signer
            self.forget()  # keys changed elsewhere: what this process published is stale too
        row = self._active_row(session, purpose, owner)
        if row is None:
            self.ensure(session, purpose, owner)
            row = self._active_row(session, purpose, owner)
            assert row is not None
        private = bytes.fromhex(self.keyring.decrypt(session, PRIVATE_FIELD, row.private_key_enc))
        signer = sm2.Sm2Signer(sm2.KeyPair(private, bytes.fromhex(row.public_key)))
        with self._lock:
            self._signers[(purpose, owner)] = _Cached((row.kid, signer), now)
        return row.kid, signer

    def es256_key(self, session: Session, owner: str) -> tuple[str, Any]:
        """The active ES256 key of an owner (for SD-JWT credentials), made on first use."""
        now = time.monotonic()
        cached = self._signers.get(("sdjwt", owner))
        if cached is not None and now - cached.at < _CACHE_SECONDS:
            kid, key = cached.value
            if self._still_active(session, kid):
                return kid, key
            self.forget()
        self.ensure(session, "sdjwt", owner)
        row = self._active_row(session, "sdjwt", owner)
        assert row is not None
        scalar = bytes.fromhex(self.keyring.decrypt(session, PRIVATE_FIELD, row.private_key_enc))
        key = es256.private_key(scalar)
        with self._lock:
            self._signers[("sdjwt", owner)] = _Cached((row.kid, key), now)
        return row.kid, key

    @staticmethod
    def _still_active(session: Session, kid: str) -> bool:
        """Whether a cached key may still sign: another process may have rotated or revoked it
        a moment ago (one primary-key read, so nothing is signed by a retired key)."""
        status = session.scalar(select(SigningKey.status).where(SigningKey.kid == kid))
        return status == "active"

    def root(self, session: Session) -> tuple[str, sm2.Sm2Signer]:
        return self.signer(session, ROOT, self.region_owner)

    # -- publishing ----------------------------------------------------------------------------

    def published(self, session: Session, purpose: str | None = None) -> list[SigningKey]:
        """The keys a verifier must know: active ones, retired ones whose work still lives,
        revoked ones (so they are known as revoked). Never the root, which signs the list."""
        now = utcnow()
        query = select(SigningKey).where(
            SigningKey.purpose != ROOT, SigningKey.region_code == self.settings.region_code
        )
        if purpose is not None:
            query = query.where(SigningKey.purpose == purpose)
        keep = []
        for row in session.scalars(query.order_by(SigningKey.activated_at, SigningKey.kid)):
            if row.status == "retired":
                rule = PUBLISH_RETIRED.get(row.purpose)
                if rule is not None and not rule(session, row, now):
                    continue
            keep.append(row)
        return keep

    def cached(self, name: str, make: Callable[[], Any], *, refresh: bool = False) -> Any:
        """A value kept for a minute in this process (trust lists are read on every scan)."""
        now = time.monotonic()
        entry = self._cache.get(name)
        # A refresh is asked for when a code names a key not seen yet; at most one every few
        # seconds, so a stream of made-up key ids cannot make every scan rebuild the list.
        fresh_enough = entry is not None and now - entry.at < _MIN_REFRESH_SECONDS
        if entry is not None and (
            fresh_enough or (not refresh and now - entry.at < _CACHE_SECONDS)
        ):
            return entry.value
        value = make()
        with self._lock:
            self._cache[name] = _Cached(value, now)
        return value

    def document(self, session: Session) -> dict[str, Any]:
        """The signed trust list verifiers download (`GET /api/v1/trust-list`)."""

        def make() -> dict[str, Any]:
            _, root = self.root(session)
            issued = int(time.time())
            return build_document(
                region_code=self.settings.region_code,
                region_name=self.settings.region_name,
                keys=[trusted_key(r) for r in self.published(session)],
                root=root,
                issued_at=issued,
                next_update=issued + self.settings.trust_list_days * 86400,
            )

        document: dict[str, Any] = self.cached("trust-list", make)
        return document
