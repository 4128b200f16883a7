"""The demo data of a new demo database (`tongban demo`, and the tests that need whole
nodes): the region's shipped catalog, made-up people and accounts, their licenses, the
working-day calendar and, for Shanghai, sample applications of every kind."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tongban.cases.demo import load_demo_cases
from tongban.cases.files import FileStore
from tongban.catalog.loader import SHIPPED_REGION, shipped_catalog
from tongban.catalog.service import load_catalog_dir
from tongban.crypto.service import Keyring
from tongban.crypto.signing import SigningKeys
from tongban.federation.demo import load_jiangsu_demo, load_shanghai_family
from tongban.identity.demo import DEMO_PASSWORD, load_demo_principals
from tongban.industry.demo import load_demo_industry
from tongban.licenses.demo import load_demo_licenses
from tongban.licenses.service import Registry
from tongban.onething.demo import load_demo_bundles
from tongban.ratings.demo import load_demo_ratings
from tongban.settings import Settings, files_dir_for
from tongban.workdays.service import seed_from_chinesecalendar

# The regions whose catalog and demo people are shipped.
DEMO_REGIONS = (SHIPPED_REGION, "320000")


def load_demo(
    session: Session, settings: Settings, ring: Keyring, *, applications: bool = True
) -> list[str]:
    """Everything a new demo database of the settings' region holds; what was loaded, line by
    line. `applications=False` leaves out Shanghai's sample applications (faster)."""
    registry = Registry(settings, ring, SigningKeys(settings, ring))
    files = FileStore(files_dir_for(settings))
    catalog = settings.catalog_dir or shipped_catalog(settings.region_code)
    report = load_catalog_dir(session, catalog)
    lines = [f"catalog loaded ({settings.region_name}): {report.summary()}"]
    if settings.region_code != SHIPPED_REGION:
        accounts = load_jiangsu_demo(session, registry)
        lines.append(f"demo accounts: {', '.join(accounts)} (password {DEMO_PASSWORD})")
        years = seed_from_chinesecalendar(session)
        lines.append(f"working-day calendar: {years[0]}–{years[-1]}")
        return lines
    names = load_demo_principals(session, ring)
    lines.append(
        f"demo people, enterprises and accounts loaded: {', '.join(names)} "
        f"(password {DEMO_PASSWORD}, demo databases only)"
    )
    years = seed_from_chinesecalendar(session)
    lines.append(f"working-day calendar: {years[0]}–{years[-1]}")
    lines.append(f"demo licenses issued and signed: {load_demo_licenses(session, registry)}")
    lines.append(f"demo family from Suzhou (citizen3): {load_shanghai_family(session, registry)}")
    if applications:
        lines.append(f"demo applications made: {load_demo_cases(session, registry, files)}")
        lines.append(
            f"demo 一件事 applications made: {load_demo_bundles(session, registry, files)}"
        )
        lines.append(
            f"demo 一业一证 applications made: {load_demo_industry(session, registry, files)}"
        )
        rated = load_demo_ratings(session, settings, registry, files)
        lines.append(f"demo ratings given: {rated}")
    return lines
