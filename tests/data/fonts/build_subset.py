"""Build NotoSansSC-specimen.otf: Noto Sans CJK SC cut down to the characters specimen
documents use (GB 2312 level 1, every division name, the specimens' labels), so that
specimens render identically on any machine without a system CJK font.

Run once where Noto Sans CJK is installed (Debian: fonts-noto-cjk):
    .venv/bin/python tests/data/fonts/build_subset.py
The font is licensed under the SIL Open Font License 1.1 (OFL.txt beside it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SOURCES_OF_TEXT = [
    ROOT / "src" / "tongban" / "data" / "catalog" / "divisions.yaml",
    ROOT / "tests" / "prereview" / "specimens.py",
    ROOT / "tests" / "prereview" / "samples.py",
    ROOT / "tests" / "data" / "prereview" / "generate.py",
]


def gb2312_level1() -> str:
    chars = []
    for high in range(0xB0, 0xD8):
        for low in range(0xA1, 0xFF):
            try:
                chars.append(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return "".join(chars)


def wanted() -> str:
    text = gb2312_level1() + "".join(chr(c) for c in range(0x20, 0x7F))
    text += "：（），。、；“”《》【】—·★①②③０１２３４５６７８９"
    for path in SOURCES_OF_TEXT:
        if path.exists():
            text += path.read_text(encoding="utf-8")
    return "".join(sorted(set(text) - {"\n", "\r", "\t"}))


def main() -> None:
    collection = TTCollection(str(SOURCE))
    font = next(f for f in collection.fonts if "SC" in f["name"].getDebugName(1))
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=wanted())
    subsetter.subset(font)
    out = HERE / "NotoSansSC-specimen.otf"
    font.save(str(out))
    print(f"{out}: {out.stat().st_size // 1024} KB", file=sys.stderr)


if __name__ == "__main__":
    main()
