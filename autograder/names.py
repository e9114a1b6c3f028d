"""Student ids from folder and file names: lossless, and refused by name where two would collide.

A submission's name is its nbgrader student folder (``submitted/<name>/<assignment>/``), a student's folder
(``<name>/convolution.ipynb``) or its file's stem (``<name>.ipynb``). Its student id (the results folder
``<out>/<id>/``, the CSV's ``student``, nbgrader's student id) is :func:`student_id`:

- the name itself when every character is an ASCII letter or digit or one of ``_ . @ + -`` (``alice``,
  ``jo.doe@uni.edu``, ``dave+``, ``dave+cs101@uni.edu``), it does not start with ``.`` or ``-``, and it is not
  empty;
- otherwise the name percent-encoded: every byte of its UTF-8 encoding that is not such a character, and a
  leading ``.`` or ``-``, becomes ``%XX`` (``Bob Smith`` -> ``Bob%20Smith``, ``über`` -> ``%C3%BCber``,
  ``.hidden`` -> ``%2Ehidden``, a name with an escape character -> ``x%1B%5D0...``). ``%`` itself is always
  encoded, so the mapping is injective: :func:`name_of` gives the name back, and two different names never
  get the same id (no more ``dave`` and ``dave+`` both graded as ``dave``).

An id is safe as one path component, on a terminal and in a shell (only those 67 characters), and as an nbgrader
student id: nbgrader uses the id as a file glob (``*?[]`` would match other students), strips surrounding
spaces, splits ``--CourseDirectory.student_id_exclude`` at commas, and its ``Student.id`` column holds 128
characters.

Refused, by name, without stopping the batch (:func:`problems`; the others are graded):

- an id longer than :data:`MAX_ID` (128) characters;
- names that would collide: equal after Unicode compatibility normalisation (NFKC) and ignoring case (``Dave``
  and ``dave``, ``dave`` and the full-width ``ｄａｖｅ``, two files ``a/alice.ipynb`` and ``b/alice.ipynb``).
  Their ids differ (except for the same name twice), but they name the same person to a reader, and the same
  folder on a case-insensitive file system (a Mac, a Windows share). Lookalikes from other scripts (a Cyrillic
  ``а``) are percent-encoded, so they are visibly different ids.

A folder of nbgrader's ``submitted/`` whose name is not its own id (it would be encoded) is graded, and not
recorded in the gradebook: nbgrader knows the student by the raw name, which it would treat as a glob or strip
(:func:`gradebook_problem` says what to rename).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

SAFE = re.compile(r"[A-Za-z0-9_.@+-]")
MAX_ID = 128  # nbgrader's Student.id is a String(128)
_PERCENT = re.compile(r"%([0-9A-F]{2})")


def student_id(name: str) -> str:
    """The student id of a folder or file name (see the module's docstring): the name itself when it is made of
    safe characters and does not start with ``.`` or ``-``, else percent-encoded. Injective."""
    out = []
    for i, ch in enumerate(name):
        if SAFE.fullmatch(ch) and not (i == 0 and ch in ".-"):
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogateescape"))
    return "".join(out) or "%"  # "%" alone is no encoding's output: the empty name


def name_of(student: str) -> str:
    """The name an id was made from (the inverse of :func:`student_id`)."""
    if student == "%":
        return ""
    data = bytearray()
    pos = 0
    for m in _PERCENT.finditer(student):
        data += student[pos:m.start()].encode("ascii")
        data.append(int(m.group(1), 16))
        pos = m.end()
    data += student[pos:].encode("ascii")
    return data.decode("utf-8", "surrogateescape")


def collision_key(name: str) -> str:
    """Names with the same key would collide: the same after NFKC and ignoring case."""
    return unicodedata.normalize("NFKC", name).casefold()


def problems(names: Iterable[str]) -> dict[str, str]:
    """Names (each once) that cannot be graded, with why: an id too long, or a collision with another name of
    the batch (every name of a colliding group is listed, the reason naming the others)."""
    names = list(names)
    found: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    for name in names:
        sid = student_id(name)
        if len(sid) > MAX_ID:
            found[name] = (f"its student id would be {len(sid)} characters long, over nbgrader's {MAX_ID}: rename it "
                           "to the student's roster id")
        groups.setdefault(collision_key(name), []).append(name)
    for group in groups.values():
        if len(group) < 2:
            continue
        for name in set(group):
            copies = group.count(name)
            others = sorted({f"'{shown(o)}'" for o in group if o != name})
            why = [f"{copies} submissions for this student"] if copies > 1 else []
            if others:
                why.append("looks the same as " + ", ".join(others) + " (the same ignoring case and Unicode "
                           "compatibility forms: one folder on a case-insensitive file system)")
            found[name] = (f"{'; '.join(why)}: none of them was graded. Keep one (rename the others to their "
                           "roster ids, or remove them) and run the same command again")
    return found


def gradebook_problem(folder: str) -> str:
    """Why nbgrader's ``submitted/<folder>/`` cannot be recorded under its name ("" when it can)."""
    sid = student_id(folder)
    if sid == folder:
        return ""
    return (f"the folder name '{shown(folder)}' is not an nbgrader student id this grader records (graded as "
            f"{sid!r}): ids are ASCII letters, digits and _ . @ + -, not starting with . or -. Rename the folder "
            "to the student's roster id and run the same command again.")


def shown(name: str, limit: int = 80) -> str:
    """A name as printed in a message: control and invisible characters escaped, at most ``limit`` characters."""
    from autograder.bounds import cut, visible

    return cut(visible(name, lines=False), limit)


def code_span(name: str, limit: int = 80) -> str:
    """A student's file name in a message that feedback.md shows as Markdown: :func:`shown`, as an inline code span
    whose backtick run is longer than any in the name, so ``![x](y).ipynb`` or ``<img ...>.ipynb`` is text there."""
    import re

    text = shown(name, limit)
    ticks = "`" * (1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"
