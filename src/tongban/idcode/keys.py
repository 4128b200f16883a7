"""The region's SM2 signing keys: made, rotated and revoked here, published in the trust list.

- `code` keys sign codes. Exactly one is active; rotation retires it, and a retired key stays in
  the trust list while any code it signed may still be shown (a paper code lives for a year),
  so nothing valid stops verifying when keys change.
- The `root` key signs the trust list itself. Scanners pin its fingerprint.
- A revoked key stays listed as revoked for `paper_code_days`, so scanners can say "revoked key"
  rather than "forged".

Private halves are stored encrypted under the data-key hierarchy; each process keeps the
decrypted active signer for a minute, so a rotation made by one process is followed by all.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tongban.crypto.service import Keyring
from tongban.db import utcnow
from tongban.errors import DomainError
from tongban.idcode import signer as sm2
from tongban.idcode.models import CodeIssue, SigningKey
from tongban.idcode.trust import TrustedKey, TrustList, build_document
from tongban.settings import Settings

PRIVATE_FIELD = "signing_key.private"
CODE = "code"
ROOT = "root"
_CACHE_SECONDS = 60.0


def _epoch(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


@dataclass
class _Cached:
    value: Any
    at: float


@dataclass
class CodeKeys:
    settings: Settings
    keyring: Keyring
    _signers: dict[str, _Cached] = field(default_factory=dict)
    _lists: _Cached | None = None
    _document: _Cached | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def region_code(self) -> str:
        return self.settings.region_code

    # -- making keys ---------------------------------------------------------------------------

    def ensure(self, session: Session) -> None:
        """An active root key and an active code key, made on first use."""
        for purpose in (ROOT, CODE):
            if self._active_row(session, purpose) is None:
                try:
                    with session.begin_nested():
                        self._create(session, purpose)
                except IntegrityError:
                    pass  # another process made it a moment ago: use theirs

    def _create(self, session: Session, purpose: str) -> SigningKey:
        pair = sm2.KeyPair.generate()
        kid = sm2.key_id(pair.public_key)
        while session.get(SigningKey, kid) is not None:  # 1 in 4 billion: draw again
            pair = sm2.KeyPair.generate()
            kid = sm2.key_id(pair.public_key)
        row = SigningKey(
            kid=kid,
            purpose=purpose,
            region_code=self.region_code,
            public_key=pair.public_key.hex(),
            private_key_enc=self.keyring.encrypt(session, PRIVATE_FIELD, pair.private_key.hex()),
            status="active",
            activated_at=utcnow(),
        )
        session.add(row)
        session.flush()
        self.forget()
        return row

    def _active_row(self, session: Session, purpose: str) -> SigningKey | None:
        return session.scalars(
            select(SigningKey).where(
                SigningKey.purpose == purpose,
                SigningKey.status == "active",
                SigningKey.region_code == self.region_code,
            )
        ).first()

    def rotate(self, session: Session, purpose: str = CODE) -> SigningKey:
        """A new active key; the old one retires but stays published while its codes live."""
        old = session.scalars(
            select(SigningKey)
            .where(SigningKey.purpose == purpose, SigningKey.status == "active")
            .with_for_update()
        ).first()
        if old is not None:
            old.status = "retired"
            old.retired_at = utcnow()
            session.flush()  # retire first: only one key may be active
        return self._create(session, purpose)

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
            self._create(session, row.purpose)
        self.forget()
        return row

    def forget(self) -> None:
        with self._lock:
            self._signers.clear()
            self._lists = None
            self._document = None

    # -- signing -------------------------------------------------------------------------------

    def signer(self, session: Session, purpose: str = CODE) -> tuple[str, sm2.Sm2Signer]:
        now = time.monotonic()
        cached = self._signers.get(purpose)
        if cached is not None and now - cached.at < _CACHE_SECONDS:
            kid, signer = cached.value
            return kid, signer
        row = self._active_row(session, purpose)
        if row is None:
            self.ensure(session)
            row = self._active_row(session, purpose)
            assert row is not None
        private = bytes.fromhex(self.keyring.decrypt(session, PRIVATE_FIELD, row.private_key_enc))
        signer = sm2.Sm2Signer(sm2.KeyPair(private, bytes.fromhex(row.public_key)))
        with self._lock:
            self._signers[purpose] = _Cached((row.kid, signer), now)
        return row.kid, signer

    # -- publishing ----------------------------------------------------------------------------

    def published(self, session: Session) -> list[SigningKey]:
        """The code keys a scanner must know: active, retired with live codes, recently revoked."""
        now = utcnow()
        rows = session.scalars(
            select(SigningKey)
            .where(SigningKey.purpose == CODE, SigningKey.region_code == self.region_code)
            .order_by(SigningKey.activated_at)
        ).all()
        grace = timedelta(
            seconds=self.settings.code_ttl_seconds + self.settings.code_clock_skew_seconds
        )
        keep = []
        for row in rows:
            if row.status == "active":
                keep.append(row)
            elif row.status == "retired":
                assert row.retired_at is not None
                if row.retired_at + grace > now or self._last_expiry(session, row.kid, now):
                    keep.append(row)
            elif (
                row.revoked_at
                and row.revoked_at + timedelta(days=self.settings.paper_code_days) > now
            ):
                keep.append(row)
        return keep

    @staticmethod
    def _last_expiry(session: Session, kid: str, now: datetime) -> bool:
        """Whether a code signed by `kid` is still unexpired and not revoked."""
        last = session.scalar(
            select(func.max(CodeIssue.expires_at)).where(
                CodeIssue.kid == kid, CodeIssue.revoked_at.is_(None)
            )
        )
        return last is not None and last > now

    def _trusted(self, rows: list[SigningKey]) -> list[TrustedKey]:
        return [
            TrustedKey(
                kid=r.kid,
                public_key=bytes.fromhex(r.public_key),
                status=r.status,
                activated_at=_epoch(r.activated_at) or 0,
                retired_at=_epoch(r.retired_at),
                revoked_at=_epoch(r.revoked_at),
                use="code",
                owner=f"region:{r.region_code}",
            )
            for r in rows
        ]

    def trust_lists(self, session: Session, *, refresh: bool = False) -> dict[str, TrustList]:
        """This region's trust list as the server itself uses it (straight from its own rows)."""
        now = time.monotonic()
        cached = self._lists
        if not refresh and cached is not None and now - cached.at < _CACHE_SECONDS:
            lists: dict[str, TrustList] = cached.value
            return lists
        keys = self._trusted(self.published(session))
        issued = int(time.time())
        root_kid, _ = self.signer(session, ROOT)
        trust = TrustList(
            region_code=self.region_code,
            region_name=self.settings.region_name,
            issued_at=issued,
            next_update=issued + self.settings.trust_list_days * 86400,
            root_kid=root_kid,
            keys={k.kid: k for k in keys},
        )
        with self._lock:
            self._lists = _Cached({self.region_code: trust}, now)
        return {self.region_code: trust}

    def document(self, session: Session) -> dict[str, Any]:
        """The signed trust list scanners download (`GET /api/v1/trust-list`)."""
        now = time.monotonic()
        cached = self._document
        if cached is not None and now - cached.at < _CACHE_SECONDS:
            document: dict[str, Any] = cached.value
            return document
        _, root = self.signer(session, ROOT)
        issued = int(time.time())
        document = build_document(
            region_code=self.region_code,
            region_name=self.settings.region_name,
            keys=self._trusted(self.published(session)),
            root=root,
            issued_at=issued,
            next_update=issued + self.settings.trust_list_days * 86400,
        )
        with self._lock:
            self._document = _Cached(document, now)
        return document
