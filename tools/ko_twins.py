"""Add and check Korean twin cells (tag `lang:ko`) in source notebooks, without hand-editing JSON.

A twin sits right after its base cell, has the same cell type and no nbgrader metadata; a code twin may differ
from its base only in comments and docstrings (see docs/authoring.md and the issue-15 design).

    python tools/ko_twins.py check source/week01-markov/markov.ipynb ...
    python tools/ko_twins.py check --partial source/week04-transformer/transformer.ipynb ...
    python tools/ko_twins.py apply source/week01-markov/markov.ipynb translations.py

`apply` reads a Python file defining MD (base cell id -> Korean markdown), CODE (base cell id -> list of
(English fragment, Korean fragment) replaced once each in the base source), NEW (list of (after base id,
new id, English markdown, Korean markdown) for new bilingual base cells) and optionally EN (base cell id -> the
English markdown its Korean was written from: apply refuses, naming the cell and the first changed line, when the
notebook's English has changed since). It first removes every existing
twin and every earlier NEW cell, so running it again gives the same notebook. `--partial` checks a notebook that is
only partly translated: the twins it has must follow the rules, but cells may lack one.
"""

from __future__ import annotations

import ast
import io
import json
import re
import runpy
import sys
import tokenize
from pathlib import Path

import nbformat

from autograder.languages import neutral_code  # the release's own test of twin code

TAG = "lang:ko"
MARKERS = re.compile(r"(BEGIN|END) (SOLUTION|HIDDEN TESTS)|YOUR CODE HERE")
WORD = re.compile(r"\b[A-Za-z]{3,}\b")  # a comment without one (a shape, a diagram) needs no translation
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# Spellings korean.md rules out (section 1 "Use" column and section 3); each with the form to use instead.
BANNED = {"난해성": "퍼플렉서티", "그라디언트": "기울기", "매커니즘": "메커니즘", "가변적": "변분",
          "훈련": "학습", "마르코프 체인": "마르코프 연쇄", "숨겨진 상태": "은닉 상태", "RNN를": "RNN을"}


def _tags(cell) -> list[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return tags if isinstance(tags, list) else []


def is_twin(cell) -> bool:
    return TAG in _tags(cell)


def has_comments_or_docstrings(source: str) -> bool:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    if any(tok.type == tokenize.COMMENT and not MARKERS.search(tok.string) and WORD.search(tok.string)
           for tok in tokens):
        return True
    return neutral_code(source) != ast.dump(ast.parse(source))


def _first_difference(a: str, b: str) -> str:
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False), 1):
        if x != y:
            return f"line {i}: {x!r} vs {y!r}"
    return "the cells differ in length"


def problems(path: Path, partial: bool = False) -> list[str]:
    """Every way the notebook breaks the twin rules, one line each (empty when it is fine)."""
    cells = nbformat.read(path, as_version=4).cells
    out = []
    for i, cell in enumerate(cells):
        where = f"{path}: cell {i} ({cell.get('id')})"
        if not is_twin(cell):
            twinned = partial or (i + 1 < len(cells) and is_twin(cells[i + 1]))
            if cell.cell_type == "markdown" and not twinned:
                out.append(f"{where}: markdown cell has no Korean twin")
            if cell.cell_type == "code" and not twinned and has_comments_or_docstrings(cell.source):
                out.append(f"{where}: code cell with comments or docstrings has no Korean twin")
            continue
        base = cells[i - 1] if i else None
        if base is None or is_twin(base):
            out.append(f"{where}: twin does not follow a base cell")
            continue
        if "nbgrader" in cell.metadata:
            out.append(f"{where}: twin carries nbgrader metadata")
        if cell.cell_type != base.cell_type:
            out.append(f"{where}: twin is {cell.cell_type}, its base is {base.cell_type}")
        elif cell.cell_type == "code":
            if neutral_code(cell.source) != neutral_code(base.source):
                out.append(f"{where}: code differs from its base beyond comments and docstrings, "
                           f"{_first_difference(base.source, cell.source)}")
            markers = [[ln for ln in c.source.splitlines() if MARKERS.search(ln)] for c in (base, cell)]
            if markers[0] != markers[1]:
                out.append(f"{where}: solution or test markers differ from its base")
        if not HANGUL.search(cell.source) and cell.cell_type == "markdown":
            out.append(f"{where}: twin has no Korean text")
        for bad, good in BANNED.items():
            if bad in cell.source:
                out.append(f"{where}: writes {bad!r}; the glossary uses {good!r}")
    return out


def apply(path: Path, data_file: Path) -> int:
    """Rewrite the notebook's twins and NEW cells from `data_file`; return the number of twins written.

    Works on the JSON as saved (key order, one-string or line-list sources), so base cells stay byte-identical.
    """
    data = runpy.run_path(str(data_file))
    md, code, new = data.get("MD", {}), data.get("CODE", {}), data.get("NEW", [])
    new_ids = {entry[1] for entry in new}
    nb = json.loads(path.read_text(encoding="utf-8"))
    if stale := _stale_english(nb, md, data.get("EN", {})):
        raise SystemExit(f"{data_file}: the English of a translated cell changed since it was translated; revise its "
                         "Korean in MD and copy the new English into EN: " + "; ".join(stale))
    cells = [c for c in nb["cells"] if not is_twin(c) and c.get("id") not in new_ids]
    after: dict[str, list] = {}
    for base_id, new_id, english, korean in new:
        after.setdefault(base_id, []).append((new_id, english, korean))
    out, written, used = [], 0, set()
    for cell in cells:
        out.append(cell)
        cid = cell.get("id")
        twin = _twin_for(cell, md.get(cid), code.get(cid))
        if twin is not None:
            out.append(twin)
            written += 1
            used.add(cid)
        for new_id, english, korean in after.pop(cid, []):
            base = {"cell_type": "markdown", "id": new_id, "metadata": {},
                    "source": _like(cell["source"], english.strip("\n"))}
            out.extend([base, _twin_for(base, korean, None)])
            written += 1
    unknown = (set(md) | set(code)) - used
    if unknown or after:
        raise SystemExit(f"{data_file}: no base cell with id {sorted(unknown | set(after))}")
    nb["cells"] = out
    nbformat.validate(nbformat.from_dict(nb))
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return written


def _stale_english(nb: dict, md: dict[str, str], english: dict[str, str]) -> list[str]:
    """Markdown cells whose English is no longer the text (``EN``) their Korean in ``MD`` was written from."""
    now = {c.get("id"): _text(c["source"]).strip("\n") for c in nb["cells"]
           if c["cell_type"] == "markdown" and not is_twin(c)}
    return [f"cell {cid}: {_first_difference(english[cid].strip(chr(10)), now[cid])}"
            for cid in md if cid in english and cid in now and english[cid].strip("\n") != now[cid]]


def _text(source) -> str:
    return source if isinstance(source, str) else "".join(source)


def _like(model, text: str):
    """`text` stored the way the notebook stores sources: one string, or a list of lines."""
    return text if isinstance(model, str) else text.splitlines(keepends=True)


def _twin_for(base: dict, korean_md: str | None, replacements: list | None) -> dict | None:
    if korean_md is None and replacements is None:
        return None
    keep = {k: v for k, v in base["metadata"].items() if k not in ("nbgrader", "tags")}
    twin = {**base, "id": f"{base['id']}-ko", "metadata": {**keep, "tags": [*_tags(base), TAG]}}
    if korean_md is not None:
        twin["source"] = _like(base["source"], korean_md.strip("\n"))
        return twin
    source = _text(base["source"])
    for english, korean in replacements:
        if source.count(english) != 1:
            raise SystemExit(f"cell {base['id']}: {english!r} occurs {source.count(english)} times, not once")
        source = source.replace(english, korean)
    twin["source"] = _like(base["source"], source)
    return twin


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "check":
        partial = "--partial" in argv
        paths = [Path(p) for p in argv[1:] if p != "--partial"]
        found = [line for p in paths for line in problems(p, partial)]
        print("\n".join(found) or f"{len(paths)} notebook(s): every twin follows the rules")
        return 1 if found else 0
    if len(argv) == 3 and argv[0] == "apply":
        print(f"{argv[1]}: {apply(Path(argv[1]), Path(argv[2]))} Korean twins")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
