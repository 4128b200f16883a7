"""Properties of the scene registry's checks: whatever a scenes file holds, it either reads as
scenes that release only catalogued attributes or stops with SceneConfigError (never a
TypeError at start-up), and what it reads is what the file says."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from tests.strategies import STRUCTURED, json_values, mutated
from tongban.idcode.scenes import CATALOGUE, SHIPPED, SceneConfigError, parse_scenes

SHIPPED_DOCUMENT = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def _checked(document: Any) -> None:
    try:
        scenes = parse_scenes(document)
    except SceneConfigError:
        return
    for key, scene in scenes.items():
        spec = document["scenes"][key]
        assert scene.key == str(key) and scene.name == spec["name"]
        assert scene.subjects and scene.subjects <= CATALOGUE.keys()
        assert scene.once is (spec["use"] == "once")
        assert scene.accepts_paper is spec.get("paper", False)  # a bool, as written
        for released in (scene.attributes, scene.window):
            for subject, names in released.items():
                assert subject in scene.subjects
                assert set(names) <= CATALOGUE[subject].keys()
        assert not scene.window or scene.place == "hall"


@STRUCTURED
@given(json_values() | st.builds(lambda s: {"scenes": s}, json_values()))
@example({"scenes": {"a": {"subjects": 5}}})
@example({"scenes": {"a": {"subjects": [["person"]]}}})
def test_any_document_reads_or_is_refused(document: Any) -> None:
    _checked(document)


def _scene(**changes: Any) -> dict[str, Any]:
    return {
        "scenes": {
            "a": {"name": "甲", "name_en": "A", "subjects": ["person"], "use": "once", **changes}
        }
    }


@STRUCTURED
@given(mutated(SHIPPED_DOCUMENT))
@example(_scene(attributes=["name"]))
@example(_scene(attributes={"person": [["name"]]}))
@example(_scene(attributes={"person": 5}))
@example(_scene(window={"person": ["name"]}, place="hall", attributes="person"))
@example(_scene(paper="false"))  # read as True before: a quoted "false" is not false
def test_a_changed_scenes_file_reads_or_is_refused(document: Any) -> None:
    _checked(document)


@STRUCTURED
@given(
    st.frozensets(st.sampled_from(sorted(CATALOGUE)), min_size=1),
    st.data(),
    st.booleans(),
    st.booleans(),
)
def test_a_well_formed_scene_reads_as_written(
    subjects: frozenset[str], data: st.DataObject, once: bool, paper: bool
) -> None:
    attributes = {
        s: data.draw(st.lists(st.sampled_from(sorted(CATALOGUE[s])), unique=True)) for s in subjects
    }
    spec = {
        "name": "场景",
        "name_en": "Scene",
        "subjects": sorted(subjects),
        "use": "once" if once else "many",
        "paper": paper,
        "place": "hall",
        "attributes": attributes,
        "window": {s: ["licenses"] for s in subjects},
    }
    scene = parse_scenes({"scenes": {"s": spec}})["s"]
    assert scene.subjects == subjects and scene.once is once and scene.accepts_paper is paper
    for s in subjects:
        assert scene.releases(s) == tuple(attributes[s])
        assert scene.releases(s, window=True) == (*attributes[s], "licenses")
