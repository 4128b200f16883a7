"""HTTP API of the key store: the region's signed trust list."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from tongban.access import PUBLIC
from tongban.crypto.signing import SigningKeys
from tongban.deps import DbSession
from tongban.errors import DomainError

router = APIRouter(prefix="/api/v1", tags=["keys"])


def signing_keys(request: Request) -> SigningKeys:
    keys: SigningKeys | None = request.app.state.signing
    if keys is None:
        raise DomainError(
            code="keys_unavailable",
            title="签名服务暂不可用",
            title_en="Signing is unavailable: no key-encryption key is configured",
            status=503,
        )
    return keys


@router.get(
    "/trust-list",
    dependencies=[Depends(PUBLIC)],
    summary="This region's signed list of the keys that sign codes and licenses",
)
def trust_list(request: Request, db: DbSession) -> JSONResponse:
    document = signing_keys(request).document(db)
    return JSONResponse(document, headers={"cache-control": "public, max-age=300"})
