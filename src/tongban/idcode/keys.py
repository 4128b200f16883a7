"""The code's view of the signing keys: the region's `code` key signs codes, and a retired code
key stays in the trust list while any code it signed is still unexpired (a paper code keeps
it for up to a year) and for one code lifetime after it retired."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tongban.crypto import sm2
from tongban.crypto.models import SigningKey
from tongban.crypto.signing import PUBLISH_RETIRED, SigningKeys, trusted_key
from tongban.crypto.trustlist import TrustList
from tongban.idcode.models import CodeIssue

CODE = "code"


class CodeKeys:
    def __init__(self, signing: SigningKeys) -> None:
        self.signing = signing
        self.settings = signing.settings

    @property
    def owner(self) -> str:
        return self.signing.region_owner

    def ensure(self, session: Session) -> None:
        self.signing.ensure(session, "root", self.owner)
        self.signing.ensure(session, CODE, self.owner)

    def signer(self, session: Session) -> tuple[str, sm2.Sm2Signer]:
        return self.signing.signer(session, CODE, self.owner)

    def rotate(self, session: Session) -> SigningKey:
        return self.signing.rotate(session, CODE, self.owner)

    def revoke(self, session: Session, kid: str) -> SigningKey:
        return self.signing.revoke(session, kid)

    def forget(self) -> None:
        self.signing.forget()

    def trust_lists(self, session: Session, *, refresh: bool = False) -> dict[str, TrustList]:
        """This region's code keys as the server itself uses them (straight from its rows)."""

        def make() -> dict[str, TrustList]:
            keys = [trusted_key(r) for r in self.signing.published(session, CODE)]
            issued = int(time.time())
            root_kid, _ = self.signing.root(session)
            region = self.settings.region_code
            trust = TrustList(
                region_code=region,
                region_name=self.settings.region_name,
                issued_at=issued,
                next_update=issued + self.settings.trust_list_days * 86400,
                root_kid=root_kid,
                keys={k.kid: k for k in keys},
            )
            return {region: trust}

        lists: dict[str, TrustList] = self.signing.cached("code-trust", make, refresh=refresh)
        return lists


def _code_key_still_needed(session: Session, row: SigningKey, now: datetime) -> bool:
    """A retired code key is published while a code it signed may still be shown."""
    assert row.retired_at is not None
    # The longest a dynamic code may live (600 s) and the widest clock skew (120 s) allowed by
    # the settings cover the codes it signed just before retiring; beyond that, the issue
    # records say exactly how long its longest-lived code (a paper code) has left.
    if row.retired_at + timedelta(seconds=600 + 120) > now:
        return True
    last = session.scalar(
        select(func.max(CodeIssue.expires_at)).where(
            CodeIssue.kid == row.kid, CodeIssue.revoked_at.is_(None)
        )
    )
    return last is not None and last > now


PUBLISH_RETIRED[CODE] = _code_key_still_needed
