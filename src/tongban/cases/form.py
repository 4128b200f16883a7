"""The application form of a matter for one applicant: 免填报 and 免提交 applied.

Every field whose value the platform already holds is filled in, saying from where: the
population base registry (the acting person's own record), the legal-person registry (the
enterprise's record, when acting for one), or a valid license the applicant holds. Materials
come from the 免提交 resolver. The applicant sees and may correct everything before submitting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tongban.cases import proxies
from tongban.catalog.service import matter_form_facts
from tongban.crypto.service import Keyring
from tongban.identity.models import Enterprise, Person
from tongban.identity.service import Principal
from tongban.licenses import service as licenses
from tongban.licenses.resolver import Applicant, resolve_materials
from tongban.licenses.service import Registry
from tongban.portal.i18n import N_


@dataclass(frozen=True)
class FormField:
    key: str
    label: str
    type: str
    required: bool
    value: Any
    prefilled_from: str | None
    options: list[str]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def person_values(session: Session, keyring: Keyring, person: Person) -> dict[str, Any]:
    """What the population registry holds of the acting person (their own data)."""

    def clear(field: str, token: str | None) -> str | None:
        return keyring.decrypt(session, field, token) if token else None

    return {
        "person.name": person.name,
        "person.id_number": keyring.decrypt(session, "person.id_number", person.id_number_enc),
        "person.gender": person.gender,
        "person.birth_date": person.birth_date.isoformat(),
        "person.phone": clear("person.phone", person.phone_enc),
        "person.address": clear("person.address", person.address_enc),
    }


def enterprise_values(enterprise: Enterprise) -> dict[str, Any]:
    return {
        "enterprise.name": enterprise.name,
        "enterprise.uscc": enterprise.uscc,
        "enterprise.type": enterprise.type,
        "enterprise.legal_rep_name": enterprise.legal_rep.name,
        "enterprise.address": enterprise.address,
    }


def license_values(
    session: Session, reg: Registry, applicant: Applicant
) -> dict[str, tuple[Any, str]]:
    """Field values found in the applicant's valid licenses, with the license type's name."""
    found: dict[str, tuple[Any, str]] = {}
    rows = []
    if applicant.person_id is not None:
        rows += licenses.holder_licenses(session, person_id=applicant.person_id)
    if applicant.enterprise_id is not None:
        rows += licenses.holder_licenses(session, enterprise_id=applicant.enterprise_id)
    for row in rows:
        if row.status != "01":
            continue
        document = licenses.document_of(session, reg, row)
        for key, value in document["content"].items():
            found.setdefault(key, (value, document["type"]["name"]))
    return found


def prefill_values(
    session: Session, reg: Registry, applicant: Applicant
) -> dict[str, tuple[Any, str]]:
    """免填报: every value the platform holds for the applicant, by data element, with where
    it comes from; the base registries win over licenses."""
    found: dict[str, tuple[Any, str]] = {
        key: (value, f"电子证照：{name}")
        for key, (value, name) in license_values(session, reg, applicant).items()
    }
    if applicant.person_id is not None:
        person = session.get(Person, applicant.person_id)
        assert person is not None
        for key, value in person_values(session, reg.keyring, person).items():
            if value is not None:
                found[key] = (value, N_("人口库"))
    if applicant.enterprise_id is not None:
        enterprise = session.get(Enterprise, applicant.enterprise_id)
        assert enterprise is not None
        for key, value in enterprise_values(enterprise).items():
            if value is not None:
                found[key] = (value, N_("法人库"))
    return found


def build_form(
    session: Session, reg: Registry, code: str, applicant: Applicant, today: Any
) -> dict[str, Any]:
    fields = matter_form_facts(session, code)
    known = prefill_values(session, reg, applicant)
    out = []
    for f in fields:
        value, source = known.get(f.key, (None, None))
        out.append(
            FormField(f.key, f.label, f.type, f.required, value, source, list(f.options)).as_dict()
        )
    materials = [m.as_dict() for m in resolve_materials(session, code, applicant, today)]
    return {"matter": code, "fields": out, "materials": materials}


def form_for(
    session: Session,
    reg: Registry,
    principal: Principal,
    code: str,
    *,
    uscc: str | None = None,
    proxy: int | None = None,
) -> dict[str, Any]:
    """The caller's form of a matter: for themselves, for an enterprise they act for, or (代办)
    for the person who authorized them — whose data they are about to see, so it is logged."""
    if proxy is not None:
        grant = proxies.usable(session, principal, proxy, code)
        proxies.read_for_form(session, principal, grant, code)
        applicant = Applicant(grant.grantor_person_id, None)
    else:
        enterprise_id = licenses.enterprise_acted_for(session, principal, uscc) if uscc else None
        applicant = Applicant(principal.person_id, enterprise_id)
    return build_form(session, reg, code, applicant, licenses.today())
