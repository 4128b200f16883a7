"""实人认证: checking that the person at the screen is the person whose ID number they give.

Real deployments call a licensed provider (the public-security identity service, a bank, a
face-verification vendor); which one is a deployment choice, so it sits behind this interface.
The only provider shipped is the demo one, and it says so in every result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tongban.common.identifiers import is_valid_id_number
from tongban.crypto.primitives import sm3


@dataclass(frozen=True)
class RealNameResult:
    verified: bool
    provider: str
    reference: str  # the provider's transaction id, kept with the person for audits
    reason: str | None = None  # why not, when not verified
    demo: bool = False


class RealNameProvider(Protocol):
    name: str

    def verify(self, name: str, id_number: str, face_image: bytes | None) -> RealNameResult: ...


class DemoRealNameProvider:
    """NOT a real check. Accepts any well-formed ID number with a non-empty name, for demos.

    It never looks at a face; its results carry `demo=True` and provider "demo", and a person
    verified by it is marked so (`Person.real_name_provider == "demo"`).
    """

    name = "demo"

    def verify(self, name: str, id_number: str, face_image: bytes | None) -> RealNameResult:
        if not name.strip():
            return RealNameResult(False, self.name, "demo-0", "姓名为空 (empty name)", demo=True)
        if not is_valid_id_number(id_number):
            return RealNameResult(
                False, self.name, "demo-0", "身份证号码有误 (bad ID number)", demo=True
            )
        reference = "demo-" + sm3(f"{name}|{id_number}".encode()).hex()[:12]
        return RealNameResult(True, self.name, reference, demo=True)


PROVIDERS: dict[str, type[DemoRealNameProvider]] = {"demo": DemoRealNameProvider}


def provider_named(name: str) -> RealNameProvider:
    try:
        return PROVIDERS[name]()
    except KeyError as exc:
        raise ValueError(f"no real-name provider {name!r}; known: {', '.join(PROVIDERS)}") from exc
