"""Read the catalog YAML into validated models, or say exactly where it is wrong.

Every `*.yaml` below the catalog folder is read; its top-level key says what it holds
(`districts`, `departments`, `halls`, `data_elements`, `license_types`, `matters`,
`bundles`, `industries`), so a large catalog can be split into as many files as its owners
like; an `include` file reads other folders as part of it. Each problem is reported as
`file:line: what is wrong`, all of them at once, and a catalog with any problem loads nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from tongban.catalog.schemas import (
    BundleIn,
    BundlesFile,
    DataElementIn,
    DataElementsFile,
    DepartmentIn,
    DepartmentLevel,
    DepartmentsFile,
    DistrictIn,
    DivisionsFile,
    DocumentRule,
    HallIn,
    HallKind,
    HallsFile,
    IndustriesFile,
    IndustryIn,
    LicenseTypeIn,
    LicenseTypesFile,
    MatterIn,
    MattersFile,
    StreetIn,
    Strict,
)
from tongban.common.regions import region_of_division

SHIPPED_CATALOG = Path(__file__).resolve().parent.parent / "data" / "catalog"
# The shipped catalogs of other regions, for a node of that region (`tongban demo --region`).
REGION_CATALOGS = Path(__file__).resolve().parent.parent / "data" / "regions"


SHIPPED_REGION = "310000"


def shipped_catalog(region_code: str) -> Path:
    """The shipped catalog of a region (Shanghai's is the default one; a region that ships
    none names a folder that does not exist, which the loader reports)."""
    if region_code == SHIPPED_REGION:
        return SHIPPED_CATALOG
    return REGION_CATALOGS / region_code / "catalog"


_FILE_KINDS: dict[str, type[BaseModel]] = {
    "districts": DivisionsFile,
    "departments": DepartmentsFile,
    "halls": HallsFile,
    "data_elements": DataElementsFile,
    "license_types": LicenseTypesFile,
    "matters": MattersFile,
    "bundles": BundlesFile,
    "industries": IndustriesFile,
}


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class CatalogInvalid(Exception):
    """The catalog has problems; nothing of it may be loaded."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Origin:
    file: str
    line: int
    # The entry's YAML node, so a problem deep inside it can name its own line.
    node: yaml.Node | None = field(default=None, compare=False, repr=False)


@dataclass
class CatalogSource:
    """A whole catalog, validated, with where each entry was written."""

    source_note: str = ""
    districts: dict[str, DistrictIn] = field(default_factory=dict)
    streets: dict[str, StreetIn] = field(default_factory=dict)
    departments: dict[str, DepartmentIn] = field(default_factory=dict)
    halls: dict[str, HallIn] = field(default_factory=dict)
    elements: dict[str, DataElementIn] = field(default_factory=dict)
    license_types: dict[str, LicenseTypeIn] = field(default_factory=dict)
    matters: dict[str, MatterIn] = field(default_factory=dict)
    bundles: dict[str, BundleIn] = field(default_factory=dict)
    industries: dict[str, IndustryIn] = field(default_factory=dict)
    origins: dict[tuple[str, str], Origin] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Reading one file
# ---------------------------------------------------------------------------------------------


def _node_at(node: yaml.Node | None, path: Iterable[int | str]) -> yaml.Node | None:
    """The node at `path` (a pydantic error location), or the deepest parent that exists."""
    if node is None:
        return None
    current = node
    for step in path:
        nxt: yaml.Node | None = None
        if isinstance(current, yaml.MappingNode) and isinstance(step, str):
            for key_node, value_node in current.value:
                if key_node.value == step:
                    nxt = value_node
                    break
        elif (
            isinstance(current, yaml.SequenceNode)
            and isinstance(step, int)
            and 0 <= step < len(current.value)
        ):
            nxt = current.value[step]
        if nxt is None:
            break
        current = nxt
    return current


def _line_of(node: yaml.Node | None, path: Iterable[int | str]) -> int:
    found = _node_at(node, path)
    return int(found.start_mark.line) + 1 if found is not None else 1


def _each_node(node: yaml.Node | None) -> Iterator[yaml.Node]:
    """Every node of a document once, in document order. An alias is the node it names, which
    may contain it (`&a [*a]`), so a node already seen is not entered again."""
    visited: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if current is None or id(current) in visited:
            continue
        visited.add(id(current))
        yield current
        if isinstance(current, yaml.MappingNode):
            stack.extend(n for pair in reversed(current.value) for n in reversed(pair))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(reversed(current.value))


def _duplicate_keys(node: yaml.Node | None) -> Iterator[tuple[int, str]]:
    """YAML lets a later key silently replace an earlier one; in a catalog that loses data."""
    for current in _each_node(node):
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, _value in current.value:
                if isinstance(key_node, yaml.ScalarNode):
                    if key_node.value in seen:
                        yield int(key_node.start_mark.line) + 1, str(key_node.value)
                    seen.add(key_node.value)


# What PyYAML's safe constructors raise on a scalar they cannot build, besides YAMLError:
# 2024-02-30 (ValueError), an empty `!!int` (IndexError), `!!bool abc` (KeyError), `!!timestamp x`
# (AttributeError).
_BUILD_ERRORS = (ValueError, LookupError, AttributeError, TypeError)


def _unbuildable(node: yaml.Node | None) -> yaml.Node | None:
    """The first scalar the safe loader cannot build (a date like 2024-02-30, `!!int abc`)."""
    builder = yaml.SafeLoader("")
    for current in _each_node(node):
        if isinstance(current, yaml.ScalarNode):
            try:
                builder.construct_object(current)
            except _BUILD_ERRORS:
                return current
    return None


def _describe(error: Any) -> str:
    loc = ".".join(str(p) for p in error["loc"])
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        msg = "unknown key (a typo?)"
    return f"{loc}: {msg}" if loc else msg


@dataclass
class _ParsedFile:
    name: str
    kind: str
    model: BaseModel
    node: yaml.Node | None


def _parse_file(path: Path, name: str, problems: list[Problem]) -> _ParsedFile | None:
    text, node = "", None
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except UnicodeDecodeError:
        problems.append(Problem(name, 1, "not UTF-8 text"))
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problems.append(Problem(name, line, f"not valid YAML: {exc.problem or exc}"))
        return None
    except yaml.YAMLError as exc:  # ReaderError: a character YAML does not allow, no mark
        line = text.count("\n", 0, getattr(exc, "position", 0)) + 1
        problems.append(Problem(name, line, f"not valid YAML: {str(exc).splitlines()[0]}"))
        return None
    except RecursionError:
        problems.append(Problem(name, 1, "not valid YAML: nested too deeply"))
        return None
    except _BUILD_ERRORS as exc:  # a scalar YAML reads but cannot build: 2024-02-30, `!!int`
        bad = _unbuildable(node)
        if bad is None:
            problems.append(Problem(name, 1, f"not valid YAML: {exc}"))
        else:
            kind = str(bad.tag).rsplit(":", 1)[-1]
            problems.append(
                Problem(
                    name,
                    int(bad.start_mark.line) + 1,
                    f"not valid YAML: {bad.value!r} is not a valid {kind}",
                )
            )
        return None
    if not isinstance(data, dict):
        problems.append(Problem(name, 1, "expected a mapping at the top of the file"))
        return None
    duplicates = [
        Problem(name, line, f"duplicate key {key!r}") for line, key in _duplicate_keys(node)
    ]
    if duplicates:
        problems.extend(duplicates)
        return None
    # A matters file also names its default `department`; every other file holds one kind.
    kinds = ["matters"] if "matters" in data else [k for k in _FILE_KINDS if k in data]
    if len(kinds) != 1:
        problems.append(
            Problem(name, 1, f"expected one of the top-level keys {', '.join(_FILE_KINDS)}")
        )
        return None
    kind = kinds[0]
    try:
        model = _FILE_KINDS[kind].model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            problems.append(Problem(name, _line_of(node, error["loc"]), _describe(error)))
        return None
    return _ParsedFile(name, kind, model, node)


def _catalog_files(root: Path) -> Iterator[Path]:
    yield from sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


class IncludeFile(Strict):
    """`include: [folder, ...]`: catalog folders read as part of this one, relative to the
    file (a region's catalog shares the data elements of another's, so that both mean the
    same by a field's key). Included folders include nothing further."""

    include: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(min_length=1)


def _with_included(root: Path, problems: list[Problem]) -> Iterator[tuple[Path, str]]:
    """Every catalog file below `root` with the name problems are reported under, the files
    of included folders after them (named by the path written in the include)."""
    included: list[tuple[Path, str]] = []
    for path in _catalog_files(root):
        name = path.relative_to(root).as_posix()
        include = _include_of(path)
        if include is None:
            yield path, name
            continue
        try:
            folders = IncludeFile.model_validate(include).include
        except ValidationError as exc:
            problems.extend(Problem(name, 1, _describe(e)) for e in exc.errors())
            continue
        for folder in folders:
            target = (path.parent / folder).resolve()
            if not target.is_dir():
                problems.append(Problem(name, 1, f"include: no such folder {folder!r}"))
                continue
            included.extend(
                (p, f"{folder}/{p.relative_to(target).as_posix()}") for p in _catalog_files(target)
            )
    yield from included


def _include_of(path: Path) -> Any:
    """The file's content if it is an include file (one top-level key `include`), else None."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, RecursionError, *_BUILD_ERRORS):  # not UTF-8, 2024-02-30, ...
        return None  # reported when the file is parsed as a catalog file
    return data if isinstance(data, dict) and "include" in data else None


# ---------------------------------------------------------------------------------------------
# Reading a folder
# ---------------------------------------------------------------------------------------------


def read_catalog(root: Path = SHIPPED_CATALOG) -> CatalogSource:
    """Parse and cross-check every file below `root`; raise CatalogInvalid with all problems."""
    problems: list[Problem] = []
    if not root.is_dir():
        raise CatalogInvalid([Problem(str(root), 1, "no such catalog folder")])
    catalog = CatalogSource()
    for path, name in _with_included(root, problems):
        parsed = _parse_file(path, name, problems)
        if parsed is not None:
            _collect(catalog, parsed, problems)
    if problems:
        # References into a file that did not parse would all look broken: report the files.
        raise CatalogInvalid(problems)
    if not catalog.matters:
        problems.append(Problem(str(root), 1, "the catalog holds no matters"))
    _cross_check(catalog, problems)
    if problems:
        raise CatalogInvalid(problems)
    return catalog


def _add(
    catalog: CatalogSource,
    table: dict[str, Any],
    kind: str,
    key: str,
    item: Any,
    origin: Origin,
    problems: list[Problem],
) -> None:
    if key in table:
        first = catalog.origins[(kind, key)]
        problems.append(
            Problem(
                origin.file,
                origin.line,
                f"duplicate {kind} {key!r} (first at {first.file}:{first.line})",
            )
        )
        return
    table[key] = item
    catalog.origins[(kind, key)] = origin


def _collect(catalog: CatalogSource, parsed: _ParsedFile, problems: list[Problem]) -> None:
    model, node, name = parsed.model, parsed.node, parsed.name

    def at(*path: int | str) -> Origin:
        entry = _node_at(node, path)
        return Origin(name, _line_of(node, path), entry)

    if isinstance(model, DivisionsFile):
        catalog.source_note = model.source
        for i, d in enumerate(model.districts):
            _add(catalog, catalog.districts, "district", d.code, d, at("districts", i), problems)
        for i, s in enumerate(model.streets):
            _add(catalog, catalog.streets, "street", s.code, s, at("streets", i), problems)
    elif isinstance(model, DepartmentsFile):
        for i, dep in enumerate(model.departments):
            _add(
                catalog,
                catalog.departments,
                "department",
                dep.key,
                dep,
                at("departments", i),
                problems,
            )
    elif isinstance(model, HallsFile):
        for i, hall in enumerate(model.halls):
            _add(catalog, catalog.halls, "hall", hall.key, hall, at("halls", i), problems)
    elif isinstance(model, DataElementsFile):
        for i, el in enumerate(model.data_elements):
            _add(
                catalog,
                catalog.elements,
                "data element",
                el.key,
                el,
                at("data_elements", i),
                problems,
            )
    elif isinstance(model, LicenseTypesFile):
        for i, lt in enumerate(model.license_types):
            _add(
                catalog,
                catalog.license_types,
                "license type",
                lt.key,
                lt,
                at("license_types", i),
                problems,
            )
    elif isinstance(model, MattersFile):
        for i, matter in enumerate(model.matters):
            if matter.department is None:
                matter = matter.model_copy(update={"department": model.department})
            _add(
                catalog, catalog.matters, "matter", matter.code, matter, at("matters", i), problems
            )
    elif isinstance(model, IndustriesFile):
        for i, industry in enumerate(model.industries):
            _add(
                catalog,
                catalog.industries,
                "industry",
                industry.code,
                industry,
                at("industries", i),
                problems,
            )
    elif isinstance(model, BundlesFile):
        for i, bundle in enumerate(model.bundles):
            _add(
                catalog, catalog.bundles, "bundle", bundle.code, bundle, at("bundles", i), problems
            )


def _cross_check(c: CatalogSource, problems: list[Problem]) -> None:
    """References between entries must resolve; reported at the referring entry."""

    def bad(kind: str, key: str, message: str) -> None:
        origin = c.origins.get((kind, key), Origin("?", 1))
        problems.append(Problem(origin.file, origin.line, f"{kind} {key!r}: {message}"))

    for street in c.streets.values():
        if street.district not in c.districts:
            bad("street", street.code, f"unknown district {street.district}")
    provinces = sorted({region_of_division(code) or "?" for code in c.districts})
    if len(provinces) > 1:
        first = next(iter(c.districts))
        bad("district", first, f"a catalog is of one region; its districts are in {provinces}")
    for dep in c.departments.values():
        if dep.district and dep.district not in c.districts:
            bad("department", dep.key, f"unknown district {dep.district}")
        if dep.region is not None and dep.region in provinces:
            bad("department", dep.key, f"{dep.region} is this catalog's own region")
    for hall in c.halls.values():
        if hall.district not in c.districts:
            bad("hall", hall.key, f"unknown district {hall.district}")
        if hall.street and c.streets and hall.street not in c.streets:
            bad("hall", hall.key, f"unknown street {hall.street}")
    for lt in c.license_types.values():
        _check_department(c, "license type", lt.key, lt.department, bad)
        for f in lt.fields:
            if f not in c.elements:
                bad("license type", lt.key, f"unknown data element {f!r} in fields")
    license_codes: dict[str, str] = {}
    for lt in c.license_types.values():
        if lt.code in license_codes:
            bad(
                "license type",
                lt.key,
                f"type code {lt.code} already used by {license_codes[lt.code]!r}",
            )
        license_codes[lt.code] = lt.key
    for matter in c.matters.values():
        origin = c.origins.get(("matter", matter.code), Origin("?", 1))
        for path, message in check_matter(c, matter):
            line = _line_of(origin.node, _path(path)) if origin.node else origin.line
            problems.append(Problem(origin.file, line, f"matter {matter.code!r} {path}: {message}"))
    for bundle in c.bundles.values():
        origin = c.origins.get(("bundle", bundle.code), Origin("?", 1))
        for path, message in check_bundle(c, bundle):
            line = _line_of(origin.node, _path(path)) if origin.node else origin.line
            problems.append(Problem(origin.file, line, f"bundle {bundle.code!r} {path}: {message}"))
    for industry in c.industries.values():
        origin = c.origins.get(("industry", industry.code), Origin("?", 1))
        for path, message in check_industry(c, industry):
            line = _line_of(origin.node, _path(path)) if origin.node else origin.line
            problems.append(
                Problem(origin.file, line, f"industry {industry.code!r} {path}: {message}")
            )


def _path(dotted: str) -> list[int | str]:
    return [int(p) if p.isdigit() else p for p in dotted.split(".")]


def _check_department(
    c: CatalogSource, kind: str, key: str, dep_key: str | None, bad: Any, *, own: bool = True
) -> None:
    if dep_key is None:
        return
    dep = c.departments.get(dep_key)
    if dep is None:
        bad(kind, key, f"unknown department {dep_key!r}")
    elif own and dep.level is DepartmentLevel.EXTERNAL:
        bad(kind, key, f"department {dep_key!r} is not a body of this city")


def check_matter(c: CatalogSource, m: MatterIn) -> list[tuple[str, str]]:
    """(field path, problem) for every reference of a matter that the catalog cannot resolve."""
    out: list[tuple[str, str]] = []
    dep = c.departments.get(m.department or "")
    if dep is None:
        out.append(("department", f"unknown department {m.department!r}"))
    elif dep.level is DepartmentLevel.EXTERNAL:
        out.append(("department", f"department {m.department!r} is not a body of this city"))
    elif dep.region is None and m.peer_code is not None:
        out.append(("peer_code", "only a matter of a peer region's department has a peer code"))
    elif dep.region is not None and m.cross_region:
        out.append(("cross_region", "a peer region's matter is forwarded, not accepted here"))
    for i, f in enumerate(m.fields):
        if f.element not in c.elements:
            out.append((f"fields.{i}.element", f"unknown data element {f.element!r}"))
    for i, mat in enumerate(m.materials):
        if mat.license_type and mat.license_type not in c.license_types:
            out.append(
                (f"materials.{i}.license_type", f"unknown license type {mat.license_type!r}")
            )
        if mat.department and mat.department not in c.departments:
            out.append((f"materials.{i}.department", f"unknown department {mat.department!r}"))
    if m.issues_license and m.issues_license not in c.license_types:
        out.append(("issues_license", f"unknown license type {m.issues_license!r}"))
    out.extend(_check_approval_elements(c, m))
    for i, hall_key in enumerate(m.halls):
        hall = c.halls.get(hall_key)
        if hall is None:
            out.append((f"halls.{i}", f"unknown hall {hall_key!r}"))
        elif hall.kind is not HallKind.SPECIALIZED:
            out.append(
                (f"halls.{i}", f"hall {hall_key!r} is not specialized; general halls are computed")
            )
    return out


# The rule attributes that name a form field, and those that name a material.
_RULE_FIELDS = ("field", "other", "id_field", "date_field", "gender_field", "at", "after_field")


def _check_approval_elements(c: CatalogSource, m: MatterIn) -> list[tuple[str, str]]:
    """A rule may only name the matter's own fields and materials, and license types that
    exist: a rule about something the form does not ask would never fire, silently."""
    fields = {f.element for f in m.fields}
    materials = {mat.key for mat in m.materials}
    out: list[tuple[str, str]] = []
    for i, rule in enumerate(m.approval_elements):
        where = f"approval_elements.{i}"
        named = [getattr(rule, a) for a in _RULE_FIELDS if getattr(rule, a, None)]
        if isinstance(rule, DocumentRule):
            named.extend(rule.reads.values())
        named.extend(getattr(rule, "fields", []))
        for name in named:
            if name not in fields:
                out.append((where, f"rule {rule.id!r} names {name!r}, not a field of this form"))
        material = getattr(rule, "material", None)
        if material is not None and material not in materials:
            out.append((where, f"rule {rule.id!r} names {material!r}, not a material of it"))
        license_type = getattr(rule, "license_type", None)
        if license_type is not None and license_type not in c.license_types:
            out.append((where, f"unknown license type {license_type!r}"))
    return out


def check_bundle(c: CatalogSource, b: BundleIn) -> list[tuple[str, str]]:
    """(field path, problem) for a bundle whose matters, departments or flows do not hold.

    A need must carry something: the upstream matter's license is one of this matter's
    materials, an element it provides is one of this matter's fields, or this matter takes a
    record from the upstream's department. A need that carries nothing would only slow the
    bundle down."""
    out: list[tuple[str, str]] = []
    _bundle_department(c, b, out)
    for i, entry in enumerate(b.matters):
        matter = c.matters.get(entry.matter)
        if matter is None:
            out.append((f"matters.{i}.matter", f"unknown matter {entry.matter!r}"))
            continue
        if b.audience not in matter.audience:
            out.append(
                (f"matters.{i}.matter", f"matter {entry.matter} is not for {b.audience.value}")
            )
        asked = {f.element for f in matter.fields}
        for j, element in enumerate(entry.provides):
            if element not in c.elements:
                out.append((f"matters.{i}.provides.{j}", f"unknown data element {element!r}"))
        for j, upstream_code in enumerate(entry.needs):
            upstream = c.matters.get(upstream_code)
            if upstream is None:
                continue  # reported at its own entry
            provided = next(e for e in b.matters if e.matter == upstream_code).provides
            if not _carries(matter, upstream, provided, asked):
                out.append(
                    (
                        f"matters.{i}.needs.{j}",
                        f"nothing of {upstream_code}'s result is used by {entry.matter}",
                    )
                )
    return out


def check_industry(c: CatalogSource, ind: IndustryIn) -> list[tuple[str, str]]:
    """(field path, problem): the lead department, the comprehensive license type, the
    application matter and every permit must be in the catalog, and for enterprises."""
    out: list[tuple[str, str]] = []
    dep = c.departments.get(ind.lead_department)
    if dep is None:
        out.append(("lead_department", f"unknown department {ind.lead_department!r}"))
    elif dep.level is DepartmentLevel.EXTERNAL:
        out.append(("lead_department", f"{ind.lead_department!r} is not a body of this city"))
    lt = c.license_types.get(ind.license_type)
    if lt is None:
        out.append(("license_type", f"unknown license type {ind.license_type!r}"))
    elif lt.holder.value != "enterprise":
        out.append(("license_type", f"{ind.license_type!r} is not held by enterprises"))
    if ind.application is not None:
        app = c.matters.get(ind.application)
        if app is None:
            out.append(("application", f"unknown matter {ind.application!r}"))
        elif app.issues_license != ind.license_type:
            out.append(("application", f"{ind.application} does not issue {ind.license_type}"))
    for i, p in enumerate(ind.permits):
        matter = c.matters.get(p.matter)
        if matter is None:
            out.append((f"permits.{i}.matter", f"unknown matter {p.matter!r}"))
        elif "enterprise" not in [a.value for a in matter.audience]:
            out.append((f"permits.{i}.matter", f"matter {p.matter} is not for enterprises"))
    return out


def _bundle_department(c: CatalogSource, b: BundleIn, out: list[tuple[str, str]]) -> None:
    dep = c.departments.get(b.lead_department)
    if dep is None:
        out.append(("lead_department", f"unknown department {b.lead_department!r}"))
    elif dep.level is DepartmentLevel.EXTERNAL:
        out.append(("lead_department", f"{b.lead_department!r} is not a body of this city"))


def _carries(matter: MatterIn, upstream: MatterIn, provided: list[str], asked: set[str]) -> bool:
    licenses = {m.license_type for m in matter.materials if m.license_type}
    records = {m.department for m in matter.materials if m.department}
    return (
        (upstream.issues_license is not None and upstream.issues_license in licenses)
        or bool(set(provided) & asked)
        or upstream.department in records
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m tongban.catalog.loader [DIR]`: check a catalog folder without a database."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else SHIPPED_CATALOG
    try:
        catalog = read_catalog(root)
    except CatalogInvalid as exc:
        print(exc, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); nothing loaded", file=sys.stderr)
        return 1
    print(
        f"ok: {len(catalog.matters)} matters, {len(catalog.departments)} departments, "
        f"{len(catalog.halls)} halls, {len(catalog.elements)} data elements, "
        f"{len(catalog.license_types)} license types, {len(catalog.districts)} districts, "
        f"{len(catalog.streets)} streets, {len(catalog.bundles)} bundles, "
        f"{len(catalog.industries)} industries"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
