"""The scene registry: which attributes a scanner in each scene may learn, and how often a code
may be used there. Shipped in data/scenes.yaml; a deployment may point `TONGBAN_SCENES_FILE`
at its own. The file is checked whole at start-up: an unknown attribute or kind stops the
server rather than leaking or silently dropping data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

SHIPPED = Path(__file__).resolve().parent.parent / "data" / "scenes.yaml"

# attribute -> (Chinese label, English label), per kind of holder.
PERSON_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "name": ("姓名", "Name"),
    "masked_name": ("姓名（部分隐藏）", "Name (partly hidden)"),
    "id_number": ("公民身份号码", "ID number"),
    "masked_id_number": ("公民身份号码（部分隐藏）", "ID number (partly hidden)"),
    "photo_ref": ("证件照片", "Identity photo"),
    "medical_voucher": ("医保电子凭证号", "Medical-insurance voucher number"),
    "adult": ("是否年满18周岁", "Aged 18 or over"),
    "senior": ("是否年满60周岁", "Aged 60 or over"),
    "licenses": ("持有的证照（名称、状态）", "Licenses held (type and status)"),
}
ENTERPRISE_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "name": ("企业名称", "Enterprise name"),
    "uscc": ("统一社会信用代码", "Unified social credit code"),
    "registration_status": ("登记状态", "Registration status"),
    "credit_class": ("公共信用等级", "Public credit class"),
    "licenses": ("持有的证照（名称、状态）", "Licenses held (type and status)"),
}
CATALOGUE = {"person": PERSON_ATTRIBUTES, "enterprise": ENTERPRISE_ATTRIBUTES}
_KEYS = {"name", "name_en", "subjects", "use", "paper", "place", "attributes", "window"}


class SceneConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Scene:
    key: str
    name: str
    name_en: str
    subjects: frozenset[str]
    once: bool
    accepts_paper: bool
    place: str | None
    attributes: Mapping[str, tuple[str, ...]]
    # Released besides, only to window staff at the scene's hall (一站式: what the window needs
    # to serve the person, not what a queue kiosk needs).
    window: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def releases(self, subject: str, *, window: bool = False) -> tuple[str, ...]:
        extra = self.window.get(subject, ()) if window else ()
        return self.attributes.get(subject, ()) + extra


def parse_scenes(document: Any, source: str = "scenes") -> dict[str, Scene]:
    if not isinstance(document, dict) or not isinstance(document.get("scenes"), dict):
        raise SceneConfigError(f"{source}: expected a mapping under 'scenes'")
    return {
        str(key): _scene(f"{source}: scene {key!r}", str(key), spec)
        for key, spec in document["scenes"].items()
    }


def _scene(where: str, key: str, spec: Any) -> Scene:
    if not isinstance(spec, dict):
        raise SceneConfigError(f"{where}: expected a mapping")
    unknown = set(spec) - _KEYS
    if unknown:
        raise SceneConfigError(f"{where}: unknown settings {sorted(unknown)}")
    listed = spec.get("subjects") or ()
    if not isinstance(listed, list) or not all(isinstance(s, str) for s in listed):
        raise SceneConfigError(f"{where}: subjects must be person and/or enterprise")
    subjects = frozenset(listed)
    if not subjects or not subjects <= CATALOGUE.keys():
        raise SceneConfigError(f"{where}: subjects must be person and/or enterprise")
    if spec.get("use") not in ("once", "many"):
        raise SceneConfigError(f"{where}: use must be once or many")
    if spec.get("place") not in (None, "hall"):
        raise SceneConfigError(f"{where}: place may only be hall")
    attributes = _attributes(where, subjects, spec.get("attributes"))
    window = _attributes(where, subjects, spec.get("window"))
    if window and spec.get("place") != "hall":
        raise SceneConfigError(f"{where}: window attributes need place: hall")
    if not isinstance(spec.get("name"), str) or not isinstance(spec.get("name_en"), str):
        raise SceneConfigError(f"{where}: name and name_en are required")
    if not isinstance(spec.get("paper", False), bool):  # a quoted "false" is not false
        raise SceneConfigError(f"{where}: paper must be true or false")
    return Scene(
        key=key,
        name=spec["name"],
        name_en=spec["name_en"],
        subjects=subjects,
        once=spec["use"] == "once",
        accepts_paper=spec.get("paper", False),
        place=spec.get("place"),
        attributes=attributes,
        window=window,
    )


def _attributes(where: str, subjects: frozenset[str], spec: Any) -> dict[str, tuple[str, ...]]:
    attributes: dict[str, tuple[str, ...]] = {}
    if not isinstance(spec, dict | None):
        raise SceneConfigError(f"{where}: attributes are a mapping of kind to a list")
    for subject, names in (spec or {}).items():
        if subject not in subjects:
            raise SceneConfigError(f"{where}: attributes for {subject}, which it does not accept")
        if not isinstance(names, list | None) or not all(isinstance(n, str) for n in names or ()):
            raise SceneConfigError(f"{where}: {subject} attributes must be a list of names")
        bad = [n for n in names or () if n not in CATALOGUE[subject]]
        if bad:
            raise SceneConfigError(f"{where}: unknown {subject} attributes {bad}")
        attributes[subject] = tuple(names or ())
    return attributes


@lru_cache(maxsize=8)
def load_scenes(path: Path | None = None) -> dict[str, Scene]:
    source = path or SHIPPED
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SceneConfigError(f"{source}: {exc}") from exc
    return parse_scenes(document, str(source))
