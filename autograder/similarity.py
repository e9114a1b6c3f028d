"""Similar submissions of one assignment, MOSS-style: pairs of students who share code the rest of the class has not.

Trusted code that never runs a submission: it only parses the text (``ast``; ``tokenize`` for a cell that does not
parse; a regular expression for one ``tokenize`` refuses).

1. :func:`solution_code`: a student's code cells as one text (``# %%`` between cells; regions point into it), without
   the cells equal to a cell of the released notebook (test cells, imports, demos: matched by source, never by the
   submission's metadata, as ``grade.select_cells`` does) and without IPython magics and shell lines.
2. Normalising (:func:`prepare`) what copying disguises: every name the code binds (variables, parameters, helper
   functions, keyword arguments of those helpers, attributes it assigns) becomes ``V``; numbers become ``NUM``,
   strings and f-strings ``STR``; comments, docstrings, annotations, imports, ``pass`` and layout go; ``x += y``
   reads as ``x = x + y``; an import alias becomes its module (``np.pad`` and ``from numpy import pad`` are both
   ``numpy.pad``). What nobody can rename stays: builtins, library attributes and keyword arguments, the functions
   the released notebook declares.
3. Order where it cannot matter: each top-level function or class is hashed on its own, and so are each cell's
   other statements: moving functions, cells and imports changes nothing. Inside a block, each run of statements
   between ``return``/``raise``/``break``/``continue`` is sorted by (level in the graph of read/write conflicts,
   computed on the real names; tokens): swapping adjacent statements that do not touch each other's names gives the
   same tokens.
4. Winnowing (Schleimer, Wilkerson and Aiken, SIGMOD 2003, as MOSS): a blake2b hash of every ``k`` consecutive
   tokens, the rightmost smallest of every ``window`` of them kept with the lines it covers, so any common stretch
   of ``k + window - 1`` tokens is found. Every k-gram of the released notebook, and of ``reference_code`` if given
   (the course solution), is removed from each submission: starter code never counts.
5. :func:`rank`: a fingerprint held by more than :func:`common_cut` submissions (4, or 5 % of the class if more;
   MOSS's ``-m``) is the class's common vocabulary, e.g. the short canonical answer many students write alike, and
   counts for no pair. Score: shared fingerprints / the smaller submission's count (at least ``MIN_SIZE``);
   regions: the shared fingerprints' line ranges, merged.

Limits: it finds copied *text* up to renaming and reordering, not a rewritten idea (a loop turned into a
comprehension, an expression regrouped). A group of identical answers no larger than the common cut cannot be told
from a copy ring by counting: give the course solution as ``reference_code`` when identical answers are expected
(handed-out or leaked code); ``Submission.reference_share`` then says how much of each answer is that code. A cell
that does not parse is read lexically (no renaming by binding, no reordering) and matches its parsed copy less
well. Code beyond ``MAX_CHARS`` is not compared. A score is a pointer for a person to read both texts, not a verdict.
"""

from __future__ import annotations

import ast
import builtins
import functools
import hashlib
import io
import keyword
import logging
import math
import re
import tokenize
import warnings
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import nbformat

from autograder.grade import cell_source

CELL_MARK = "# %%"  # the line between two cells in Submission.text
MAX_CHARS = 100_000  # code compared per submission (a whole 01 answer with docstrings is about 12,000)
MAX_NOTEBOOK_MB = 50  # a bigger file is not read (the grader refuses 20 MiB by default)
K = 12  # tokens per k-gram (a statement or two)
WINDOW = 8  # k-grams per winnowing window: any common stretch of K + WINDOW - 1 = 19 tokens is found
MIN_UNIT = 6  # a function shorter than K tokens is one fingerprint if it has at least this many
MIN_COMMON, COMMON_SHARE = 4, 0.05  # a fingerprint in more than max(4, 5 % of N) submissions counts for no pair
MIN_SIZE = 10  # a pair's score divides by at least this many fingerprints
MAX_RUN = 32  # statements reordered together at most (the conflict graph is quadratic)
GAP = 3  # matches at most this many lines apart in both texts are one region
Token = tuple[str, int, int]  # text, first and last line in Submission.text
RW = tuple[frozenset[str], frozenset[str]]  # names read, names written

log = logging.getLogger(__name__)
_LEX = re.compile(r"[^\W\d][\w.]*|\d[\w.]*|\*\*=?|//=?|>>=?|<<=?|->|:=|[-+*/%@&|^<>=!]=|\.\.\.|\S")
_CRUDE = re.compile(r"#[^\n]*|'''.*?'''|\"\"\".*?\"\"\"|'[^'\n]*'|\"[^\"\n]*\"|[^\W\d][\w.]*|\d[\w.]*|\S", re.S)
_MAGIC = re.compile(r"\s*(?:[%!]|[\w.]+\s*=\s*[%!])")
_BARRIERS = (ast.Return, ast.Raise, ast.Break, ast.Continue)
_BLOCKS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_BUILTINS = frozenset(dir(builtins))
_FSTRING = {getattr(tokenize, n, -1) for n in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")}  # 3.12+


@dataclass(frozen=True)
class Region:
    """A matching stretch: 1-based inclusive line ranges in each submission's ``text.split("\\n")`` (not
    ``splitlines()``, which also breaks at form feeds and other separators Python code does not)."""

    a_lines: tuple[int, int]
    b_lines: tuple[int, int]


@dataclass(frozen=True)
class Pair:
    """Two students (``a < b``) whose code shares fingerprints that neither the stub nor the class has."""

    a: str
    b: str
    score: float  # 0..1: shared / the smaller submission's fingerprints (the common ones left out of both)
    shared: int
    regions: tuple[Region, ...]


@dataclass(frozen=True)
class Submission:
    """One student's compared code and its fingerprints: hash -> the lines of ``text`` it covers."""

    student: str
    text: str
    spans: Mapping[int, tuple[int, int]] = field(repr=False, compare=False)
    reference_share: float = 0.0  # share of its fingerprints (stub's left out) found in reference_code

    @property
    def fingerprints(self) -> frozenset[int]:
        return frozenset(self.spans)


def _cells(nb: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    cells = nb.get("cells") if isinstance(nb, Mapping) else None
    return [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"] if isinstance(cells, list) else []


def solution_code(nb: Mapping[str, Any], stub_nb: Mapping[str, Any] | None = None) -> str:
    """A notebook's code cells as one text, ``# %%`` between cells, IPython magics and shell lines left out; with
    ``stub_nb`` (the released notebook), also every cell whose stripped source equals a code cell of the release."""
    released = {cell_source(c).strip() for c in _cells(stub_nb)}
    parts = []
    for cell in _cells(nb):
        source = cell_source(cell).replace("\r\n", "\n").replace("\r", "\n")
        if source.strip() and source.strip() not in released:
            code = "\n".join(line for line in source.split("\n") if not _MAGIC.match(line)).strip("\n")
            parts += [code] if code.strip() else []
    return f"\n{CELL_MARK}\n".join(parts)


def _chunks(text: str) -> list[tuple[int, str]]:
    """(lines before it, source) of each cell of a text made by :func:`solution_code`."""
    lines, out, start = text.split("\n"), [], 0
    for i, line in enumerate([*lines, CELL_MARK]):
        if line.strip() == CELL_MARK:
            out.append((start, "\n".join(lines[start:i])))
            start = i + 1
    return out


def _parse(source: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():  # "invalid escape sequence" and the like: the same parse under -W error
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None


def _hash(texts: Sequence[str]) -> int:
    data = "\x1f".join(texts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


@dataclass(frozen=True)
class _Names:
    """How identifiers are normalised: what the code binds becomes V, unless the stub declares it."""

    aliases: Mapping[str, str]  # import alias -> module path
    keep: frozenset[str]  # the stub's top-level functions and classes (every student writes them)
    bound: frozenset[str] = frozenset()
    attrs: frozenset[str] = frozenset()  # attributes the code assigns (self.x = ...)
    helpers: frozenset[str] = frozenset()  # functions the code defines beyond the stub's: their keywords are V

    def name(self, ident: str) -> str:
        if ident in self.aliases:
            return self.aliases[ident]
        return "V" if ident in self.bound and ident not in self.keep else ident


def _names(trees: list[ast.Module], base: _Names) -> _Names:
    """``base`` (the stub's) with the aliases, bound names, assigned attributes and functions of ``trees``."""
    aliases, bound, attrs, defined = dict(base.aliases), set(), set(), set()
    for node in (n for tree in trees for n in ast.walk(tree)):
        if isinstance(node, ast.Import):
            aliases.update({a.asname or a.name.split(".")[0]: a.name if a.asname else a.name.split(".")[0]
                            for a in node.names})
        elif isinstance(node, ast.ImportFrom) and not node.level:
            aliases.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names if a.name != "*"})
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, _BLOCKS):
            defined.add(node.name)
        elif isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load):
            attrs.add(node.attr)
    return _Names(aliases, base.keep, frozenset((bound | defined) - set(aliases)), frozenset(attrs),
                  frozenset(defined - base.keep))


def _read_write(tree: ast.Module) -> dict[int, RW]:
    """The names each statement (by id) reads and writes, its inner statements included, in one pass. A subscript
    or attribute store writes its base name; an expression statement (run for its effect) may change all it
    touches and keeps its place among the others."""
    out: dict[int, RW] = {}
    for stmt in reversed([n for n in ast.walk(tree) if isinstance(n, ast.stmt)]):  # inner statements first
        reads: set[str] = set()
        writes: set[str] = set()
        todo = list(ast.iter_child_nodes(stmt))
        while todo:
            node = todo.pop()
            if isinstance(node, ast.stmt):
                reads |= out[id(node)][0]
                writes |= out[id(node)][1]
                continue
            if isinstance(node, ast.Name):
                (reads if isinstance(node.ctx, ast.Load) else writes).add(node.id)
            elif isinstance(node, ast.Attribute | ast.Subscript) and not isinstance(node.ctx, ast.Load):
                base: ast.expr = node
                while isinstance(base, ast.Attribute | ast.Subscript):
                    base = base.value
                writes |= {base.id} if isinstance(base, ast.Name) else set()
            todo.extend(ast.iter_child_nodes(node))
        writes |= {stmt.name} if isinstance(stmt, _BLOCKS) else set()
        reads |= writes if isinstance(stmt, ast.AugAssign) else set()
        writes |= reads | {"<effect>"} if isinstance(stmt, ast.Expr) else set()
        out[id(stmt)] = (frozenset(reads), frozenset(writes))
    return out


class _Normalise(ast.NodeTransformer):
    """Renames, blanks literals, drops docstrings, annotations, imports and ``pass`` (in place)."""

    def __init__(self, names: _Names) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self.names.name(node.id)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        node.attr = "V" if node.attr in self.names.attrs else node.attr
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str | bytes):
            return ast.Name("STR")
        return node if node.value is None or node.value is ... or isinstance(node.value, bool) else ast.Name("NUM")

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return ast.Name("STR")

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg, node.annotation = "V", None
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        helper = isinstance(node.func, ast.Name) and node.func.id in self.names.helpers
        self.generic_visit(node)
        for kw in node.keywords:
            kw.arg = "V" if helper and kw.arg else kw.arg
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> ast.AST:
        self.generic_visit(node)
        node.name = self.names.name(node.name)
        if not isinstance(node, ast.ClassDef):
            node.returns = None
        return node

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        self.generic_visit(node)
        node.name = node.name and "V"
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.AST | None:  # docstrings and other bare literals
        return None if isinstance(node.value, ast.Constant | ast.JoinedStr) else self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST | None:
        return None if node.value is None else self.generic_visit(node)

    def _drop(self, node: ast.AST) -> None:
        return None

    visit_Import = visit_ImportFrom = visit_Global = visit_Nonlocal = visit_Pass = _drop


class _Emitter:
    """Tokens of normalised statements (``ast.unparse`` cut up by ``_LEX``), each block in canonical order."""

    def __init__(self) -> None:
        self.rw: dict[int, RW] = {}  # from _read_write, before renaming

    def stmt(self, s: ast.stmt, off: int) -> list[Token]:
        head, end, u = (s.lineno + off, s.lineno + off), (s.end_lineno or s.lineno) + off, ast.unparse

        def lex(text: str, span: tuple[int, int] = head) -> list[Token]:
            return [(t, *span) for t in _LEX.findall(text)]

        def block(body: list[ast.stmt], at: tuple[int, int] = head) -> list[Token]:
            return [("{", *at), *self.body(body, off), ("}", end, end)]

        def clause(word: str, body: list[ast.stmt]) -> list[Token]:  # else: or finally:, if any is left
            at = (body[0].lineno + off,) * 2 if body else head
            return lex(f"{word}:", at) + block(body, at) if body else []

        aio = "async " if isinstance(s, ast.AsyncFunctionDef | ast.AsyncFor | ast.AsyncWith) else ""
        if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef):
            decorators = [t for d in s.decorator_list for t in lex("@" + u(d))]
            return decorators + lex(f"{aio}def {s.name}({u(s.args)}):") + block(s.body)
        if isinstance(s, ast.ClassDef):
            return lex(f"class {s.name}({', '.join(u(b) for b in [*s.bases, *s.keywords])}):") + block(s.body)
        if isinstance(s, ast.If | ast.While):
            word = "if" if isinstance(s, ast.If) else "while"
            return lex(f"{word} {u(s.test)}:") + block(s.body) + clause("else", s.orelse)
        if isinstance(s, ast.For | ast.AsyncFor):
            return lex(f"{aio}for {u(s.target)} in {u(s.iter)}:") + block(s.body) + clause("else", s.orelse)
        if isinstance(s, ast.With | ast.AsyncWith):
            return lex(f"{aio}with {', '.join(map(u, s.items))}:") + block(s.body)
        if isinstance(s, ast.Try | ast.TryStar):
            tokens = lex("try:") + block(s.body)
            for h in s.handlers:
                at = (h.lineno + off, h.lineno + off)
                caught = f"{u(h.type) if h.type else ''}{' as V' if h.name else ''}"
                tokens += lex(f"except {caught}:", at) + block(h.body, at)
            return tokens + clause("else", s.orelse) + clause("finally", s.finalbody)
        if isinstance(s, ast.AugAssign):
            s = ast.copy_location(ast.Assign([s.target], ast.BinOp(s.target, s.op, s.value), None), s)
        elif isinstance(s, ast.AnnAssign) and s.value is not None:
            s = ast.copy_location(ast.Assign([s.target], s.value, None), s)
        return lex(u(s), (head[0], end))

    def body(self, stmts: list[ast.stmt], off: int) -> list[Token]:
        """A block's tokens, each run between barriers sorted by (conflict level, tokens); ``off``: the lines
        before its cell in the text."""
        out: list[Token] = []
        run: list[tuple[ast.stmt, list[Token]]] = []
        for s in stmts:
            tokens = self.stmt(s, off)
            if isinstance(s, _BARRIERS) or len(run) == MAX_RUN:
                out += self._canonical(run)
                run = []
            if isinstance(s, _BARRIERS):
                out += tokens
            else:
                run.append((s, tokens))
        return out + self._canonical(run)

    def _canonical(self, run: list[tuple[ast.stmt, list[Token]]]) -> list[Token]:
        levels: list[int] = []
        none: RW = (frozenset(), frozenset())
        for j, (s, _) in enumerate(run):
            reads, writes = self.rw.get(id(s), none)
            level = 0
            for i in range(j):
                r, w = self.rw.get(id(run[i][0]), none)
                if w & (reads | writes) or r & writes:
                    level = max(level, levels[i] + 1)
            levels.append(level)
        order = sorted(range(len(run)), key=lambda i: (levels[i], [t[0] for t in run[i][1]]))
        return [t for i in order for t in run[i][1]]


def _lexical(source: str, off: int, names: _Names) -> list[list[Token]]:
    """Tokens of a cell that does not parse, one unit per top-level def or class; regex tokens if tokenize fails."""
    try:
        raw = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, ValueError, RecursionError, MemoryError):
        return _crude(source, off, names)
    units: list[list[Token]] = [[]]
    line: list[tokenize.TokenInfo] = []
    depth, decorated = 0, False
    for tok in raw:
        if tok.type in (tokenize.INDENT, tokenize.DEDENT):
            depth += 1 if tok.type == tokenize.INDENT else -1
            units[-1].append(("{" if tok.type == tokenize.INDENT else "}", tok.start[0] + off, tok.start[0] + off))
        elif tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if line and not all(t.type == tokenize.STRING or t.type in _FSTRING for t in line):  # not a docstring
                if depth == 0 and line[0].string in ("def", "class", "async", "@") and units[-1] and not decorated:
                    units.append([])
                decorated = line[0].string == "@"
                units[-1] += _line_tokens(line, off, names)
            line = []
        elif tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING):
            line.append(tok)
    return [u for u in units if u]


def _line_tokens(line: list[tokenize.TokenInfo], off: int, names: _Names) -> list[Token]:
    """One logical line's tokens, named as in :class:`_Normalise` where it can tell without parsing."""
    out: list[Token] = []
    depth, in_def = 0, line[0].string == "def"
    for i, tok in enumerate(line):
        text, at = tok.string, (tok.start[0] + off, tok.end[0] + off)
        prev, after = line[i - 1].string if i else "", line[i + 1] if i + 1 < len(line) else None
        if tok.type == tokenize.OP:
            depth += (text in "([{") - (text in ")]}")
            joins = text == "." and after and after.type == tokenize.NAME and out and out[-1][0][-1:].isidentifier()
            out += [] if joins else [(text, *at)]
        elif tok.type == tokenize.NUMBER:
            out.append(("NUM", *at))
        elif tok.type == tokenize.ERRORTOKEN:
            out += [(text.strip(), *at)] if text.strip() else []
        elif tok.type != tokenize.NAME:  # strings and f-string parts
            out += [] if out and out[-1][0] == "STR" else [("STR", *at)]
        elif prev == "." and out and out[-1][0] != ".":  # the "." was left out: an attribute of the last token
            out[-1] = (f"{out[-1][0]}.{text}", out[-1][1], at[1])
        elif prev == "." or keyword.iskeyword(text) or text in _BUILTINS or text in names.keep or (
                depth and not in_def and after and after.string == "="):  # an attribute, a keyword argument
            out.append((text, *at))
        else:
            out.append((names.aliases.get(text, "V"), *at))
    return out


def _crude(source: str, off: int, names: _Names) -> list[list[Token]]:
    """The last resort: comments dropped, strings STR, numbers NUM, names V unless keywords, builtins or aliases."""
    out: list[Token] = []
    line, last = off + 1, 0
    for m in _CRUDE.finditer(source):
        line += source.count("\n", last, m.start())
        last, text = m.start(), m.group()
        end, root = line + text.count("\n"), text.split(".")[0]
        if text[0] in "'\"":
            text = "STR"
        elif text[0].isdigit():
            text = "NUM"
        elif root.isidentifier() and not (keyword.iskeyword(root) or root in _BUILTINS or root in names.keep):
            text = names.aliases.get(root, "V") + text[len(root):]
        out += [] if text.startswith("#") else [(text, line, end)]
    return [out] if out else []


def _units(text: str, base: _Names) -> list[list[Token]]:
    """A text's token streams: one per top-level function or class, one per cell for its other statements."""
    chunks = [(off, source, _parse(source)) for off, source in _chunks(text)]
    names = _names([tree for _, _, tree in chunks if tree is not None], base)
    emitter, units = _Emitter(), []
    for off, source, tree in chunks:
        try:
            if tree is None:
                raise SyntaxError
            emitter.rw.update(_read_write(tree))
            _Normalise(names).visit(tree)
            rest = emitter.body([s for s in tree.body if not isinstance(s, _BLOCKS)], off)
            units += [emitter.stmt(s, off) for s in tree.body if isinstance(s, _BLOCKS)] + [rest]
        except Exception:  # does not parse, or is nested too deep to walk: one cell never stops the comparison
            units += _lexical(source, off, names)
    return [u for u in units if u]


def _kgrams(texts: list[str], k: int) -> list[int]:
    """The hash of every k consecutive tokens; a unit shorter than k is one k-gram if it has MIN_UNIT tokens."""
    if len(texts) < k:
        return [_hash(texts)] if len(texts) >= MIN_UNIT else []
    return [_hash(texts[i:i + k]) for i in range(len(texts) - k + 1)]


def _winnow(hashes: list[int], window: int) -> list[int]:
    """The positions of the rightmost smallest hash of each window (robust winnowing)."""
    chosen = set()
    for start in range(max(len(hashes) - window + 1, 1) if hashes else 0):
        piece = hashes[start:start + window]
        chosen.add(start + min(range(len(piece)), key=lambda i: (piece[i], -i)))
    return sorted(chosen)


@dataclass(frozen=True)
class _Base:
    names: _Names
    stub: frozenset[int]  # every k-gram of the stub
    reference: frozenset[int]  # every k-gram of the reference code


@functools.lru_cache(maxsize=8)
def _base(stub_code: str, reference_code: str, k: int) -> _Base:
    trees = [t for _, s in _chunks(stub_code) if (t := _parse(s)) is not None]
    aliases = _names(trees, _Names({}, frozenset())).aliases
    names = _Names(aliases, frozenset(s.name for t in trees for s in t.body if isinstance(s, _BLOCKS)))

    def grams(code: str) -> frozenset[int]:
        return frozenset(h for unit in _units(code, names) for h in _kgrams([t[0] for t in unit], k))

    return _Base(names, grams(stub_code), grams(reference_code) if reference_code else frozenset())


def _clip(code: str) -> str:
    text = code.replace("\r\n", "\n").replace("\r", "\n")
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS].rsplit("\n", 1)[0]


def prepare(student: str, code: str, stub_code: str, *, reference_code: str = "", k: int = K,
            window: int = WINDOW) -> Submission:
    """A student's fingerprints: ``code`` (from :func:`solution_code`) normalised and winnowed, less every k-gram
    of ``stub_code`` (the released notebook's, ``solution_code(stub_nb)``) and of ``reference_code``."""
    base = _base(_clip(stub_code), _clip(reference_code), k)
    text = _clip(code)
    spans: dict[int, tuple[int, int]] = {}
    for unit in _units(text, base.names):
        hashes = _kgrams([t[0] for t in unit], k)
        for i in _winnow(hashes, window):
            if hashes[i] not in base.stub:
                covered = unit[i:i + k]
                spans.setdefault(hashes[i], (min(t[1] for t in covered), max(t[2] for t in covered)))
    ours = {h: span for h, span in spans.items() if h not in base.reference}
    return Submission(student, text, ours, 1 - len(ours) / len(spans) if spans else 0.0)


def common_cut(n: int) -> int:
    """The most submissions (of ``n``) a fingerprint may be in and still count: beyond is common vocabulary."""
    return max(MIN_COMMON, math.ceil(COMMON_SHARE * n))


def rank(subs: list[Submission], *, top: int = 20, min_score: float = 0.0, max_df: int | None = None) -> list[Pair]:
    """The ``top`` most similar pairs with a score of at least ``min_score``, best first (then more shared
    fingerprints, then names). A fingerprint held by more than ``max_df`` submissions (default
    :func:`common_cut`) counts for no one; pairs that share nothing are never listed."""
    ids = [s.student for s in subs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"student ids must be unique: {sorted({i for i in ids if ids.count(i) > 1})}")
    cut = common_cut(len(subs)) if max_df is None else max_df
    holders: dict[int, list[int]] = defaultdict(list)
    for i, sub in enumerate(subs):
        for h in sub.spans:
            holders[h].append(i)
    size = [sum(len(holders[h]) <= cut for h in sub.spans) for sub in subs]
    shared: Counter[tuple[int, int]] = Counter()
    for held in holders.values():
        if 2 <= len(held) <= cut:
            shared.update(combinations(held, 2))
    scored = sorted((-count / max(min(size[i], size[j]), MIN_SIZE), -count, min(ids[i], ids[j]), max(ids[i], ids[j]))
                    for (i, j), count in shared.items())
    by_id = dict(zip(ids, subs, strict=True))
    pairs = []
    for neg_score, neg_count, a, b in scored[:top]:
        if -neg_score < min_score:
            break
        common = [h for h in by_id[a].spans if h in by_id[b].spans and len(holders[h]) <= cut]
        pairs.append(Pair(a, b, round(-neg_score, 4), -neg_count, _regions(by_id[a], by_id[b], common)))
    return pairs


def _regions(a: Submission, b: Submission, shared: list[int]) -> tuple[Region, ...]:
    """Matches merged while they stay within GAP lines of each other in both texts."""
    merged: list[list[int]] = []
    for (a0, a1), (b0, b1) in sorted((a.spans[h], b.spans[h]) for h in shared):
        last = merged[-1] if merged else None
        if last and a0 <= last[1] + GAP and last[2] - GAP <= b0 <= last[3] + GAP:
            last[1], last[2], last[3] = max(last[1], a1), min(last[2], b0), max(last[3], b1)
        else:
            merged.append([a0, a1, b0, b1])
    return tuple(Region((a0, a1), (b0, b1)) for a0, a1, b0, b1 in merged)


def _read(path: Path) -> nbformat.NotebookNode:
    if path.stat().st_size > MAX_NOTEBOOK_MB * 2**20:
        raise ValueError(f"larger than {MAX_NOTEBOOK_MB} MiB")
    with warnings.catch_warnings():  # nbformat's warnings (cells without ids, ...) are no reason to leave one out
        warnings.simplefilter("ignore")
        return nbformat.read(str(path), as_version=4)


def from_notebooks(paths: Mapping[str, Path], stub: Path, *, reference: Sequence[Path] = (), top: int = 20,
                   max_df: int | None = None, skipped: dict[str, str] | None = None
                   ) -> tuple[list[Pair], list[Submission]]:
    """The ``top`` pairs of one assignment's submissions (student -> notebook), best first, and every submission
    compared (the texts the regions point into); ``stub`` is the released notebook.

    ``reference``: notebooks whose code is no evidence between students (the course solution, answers handed out).
    A notebook that cannot be read is left out: logged, and named with the reason in ``skipped`` if given.
    """
    stub_nb = _read(stub)
    stub_code = solution_code(stub_nb)
    reference_code = f"\n{CELL_MARK}\n".join(solution_code(_read(p), stub_nb) for p in reference)
    subs = []
    for student, path in sorted(paths.items()):
        try:
            nb = _read(path)
        except Exception as error:  # nbformat raises several types for files that are not notebooks
            reason = f"{type(error).__name__}: {str(error)[:200]}"
            log.warning("similarity: %s's notebook %s left out (%s)", student, path, reason)
            if skipped is not None:
                skipped[student] = reason
            continue
        subs.append(prepare(student, solution_code(nb, stub_nb), stub_code, reference_code=reference_code))
    return rank(subs, top=top, max_df=max_df), subs
