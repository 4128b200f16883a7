"""Chinese full-text search over matters, on SQLite (FTS5) and PostgreSQL (tsvector).

Both databases get the same words: jieba's search-mode segmentation plus the character
bigrams of every Chinese run, so a two-character word (烟草) or a word jieba does not know
(随申码) is still found. SQLite indexes them in an FTS5 `unicode61` table and ranks with bm25;
PostgreSQL keeps a weighted `simple` tsvector with a GIN index and ranks with ts_rank. Column
weights are the same idea on both: the name counts most, then aliases and the words people type,
then the rest of the guide.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jieba
from sqlalchemy import text
from sqlalchemy.orm import Session

# Letters and digits only: "_" is a word character to Python but a separator to FTS5.
_WORD_RE = re.compile(r"[^\W_]+")
_CJK_RUN_RE = re.compile(r"[\u3400-\u9fff]+")
# Words that say how someone asks, not what they ask for.
_QUERY_STOPWORDS = frozenset(
    {
        "我", "我要", "我想", "想", "要", "怎么", "怎样", "如何", "哪里", "在哪", "在哪里",
        "去哪", "哪儿", "的", "了", "吗", "呢", "一个", "一家", "一下", "可以", "能",
        "需要", "什么",
    }
)  # fmt: skip

_init_lock = threading.Lock()
_initialized = False


def init_segmenter(cache_dir: Path | None = None) -> None:
    """Load jieba's dictionary once per process, caching it where we say (not /tmp)."""
    global _initialized
    if _initialized:
        return
    with _init_lock:
        if _initialized:
            return
        jieba.setLogLevel(logging.WARNING)
        folder = cache_dir or Path.home() / ".cache" / "tongban"
        folder.mkdir(parents=True, exist_ok=True)
        jieba.dt.tmp_dir = str(folder)
        jieba.initialize()
        _initialized = True


def _bigrams(text_: str) -> list[str]:
    out: list[str] = []
    for run in _CJK_RUN_RE.findall(text_):
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


@lru_cache(maxsize=65536)
def _words_cached(text_: str) -> tuple[str, ...]:
    init_segmenter()
    lowered = text_.lower()
    out = [w for w in jieba.cut_for_search(lowered) if _WORD_RE.fullmatch(w)]
    out.extend(_bigrams(lowered))
    return tuple(out)


def words(text_: str) -> list[str]:
    """Index words of a text: segmented words, Chinese bigrams and Latin/number tokens."""
    return list(_words_cached(text_))


def join_words(texts: Iterable[str | None]) -> str:
    return " ".join(w for t in texts if t for w in _words_cached(t))


Group = tuple[tuple[str, ...], ...]
"""One concept of a query: any of its alternatives matches; an alternative is words, all needed."""


@dataclass(frozen=True)
class QueryPlan:
    groups: tuple[Group, ...]
    need: int  # how many groups a matter must match

    def relaxed(self) -> QueryPlan | None:
        """Two concepts and no matter has both: settle for either (我要开便利店卖烟酒)."""
        if len(self.groups) == 2 and self.need == 2:
            return QueryPlan(self.groups, 1)
        return None


MAX_GROUPS = 6


def plan_query(query: str) -> QueryPlan:
    """Turn what someone typed into concepts, and how many of them a result must have.

    Each word of jieba's precise cut is a concept, matched by the word itself or by all of its
    parts (结婚登记 or 结婚 + 登记). Asking-words are dropped; a lone character (开, 办, 领) is
    dropped too, but its bigram with the next word is kept as a hint that lifts the rank of
    matters carrying the whole phrase (生孩子). A result needs every concept when there are
    one or two, and 60% of them when there are more, so a long sentence still finds things.
    """
    init_segmenter()
    tokens = [t for t in jieba.cut(query.lower()) if _WORD_RE.fullmatch(t)]
    tokens = [t for t in tokens if t not in _QUERY_STOPWORDS]
    groups: list[list[tuple[str, ...]]] = []
    hints: list[str] = []
    singles: list[str] = []
    for i, tok in enumerate(tokens):
        if len(tok) == 1 and _CJK_RUN_RE.fullmatch(tok):
            singles.append(tok)
            if i + 1 < len(tokens) and _CJK_RUN_RE.match(tokens[i + 1]):
                hints.append(tok + tokens[i + 1][0])  # 生 + 孩子 -> 生孩
            elif groups and i > 0 and _CJK_RUN_RE.search(tokens[i - 1][-1]):
                groups[-1].append((tokens[i - 1][-1] + tok,))  # 残疾人 + 证 -> 人证
            continue
        parts = tuple(
            dict.fromkeys(w for w in jieba.cut_for_search(tok) if len(w) > 1 and w != tok)
        )
        alternatives: list[tuple[str, ...]] = [(tok,)]
        if parts:
            alternatives.append(parts)
        if hints:
            alternatives.extend((h,) for h in hints)
            hints = []
        groups.append(alternatives)
    if not groups and singles:
        groups = [[(s,)] for s in dict.fromkeys(singles)]
    frozen = tuple(tuple(g) for g in groups[:MAX_GROUPS])
    k = len(frozen)
    need = k if k <= 2 else math.ceil(k * 0.6)
    return QueryPlan(frozen, need)


@dataclass(frozen=True)
class SearchDoc:
    matter_id: int
    name_words: str
    alias_words: str
    keyword_words: str
    body_words: str
    phrases: str


def phrases_of(name: str, aliases: Iterable[str], keywords: Iterable[str]) -> str:
    return "\n".join(p.lower() for p in (name, *aliases, *keywords))


def cleaned_query(query: str) -> str:
    """The query without asking-words and spaces, as a phrase to look for (身份证丢了)."""
    init_segmenter()
    kept = [
        t for t in jieba.cut(query.lower()) if _WORD_RE.fullmatch(t) and t not in _QUERY_STOPWORDS
    ]
    return "".join(kept)


def phrase_boost(phrase: str, concepts: Sequence[str], phrases: str) -> float:
    """How well a matter's own words carry what was typed; added to the full-text score.

    Full-text ranking sees words, not phrases, and bm25 and ts_rank weigh rare words
    differently; this boost puts first, on both databases, a matter whose name holds the whole
    phrase, then one whose aliases or keywords do. Where no phrase decides, the databases' own
    scores do, and the two may order such matters differently.
    """
    name, _, rest = phrases.partition("\n")
    boost = 0.0
    if phrase and phrase in name:
        # The more of the name the phrase covers, the more the matter is about it (居住证申领).
        boost += 3.0 + len(phrase) / len(name)
    elif phrase and phrase in rest:
        boost += 2.0
    if concepts:
        boost += sum(1 for c in concepts if c in name) / len(concepts)
    return boost


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def reindex(session: Session, docs: Sequence[SearchDoc]) -> None:
    """Replace the full-text entries of these matters (the plain rows are written by the ORM)."""
    if not docs:
        return
    if is_postgres(session):
        session.execute(
            text(
                "UPDATE matter_search_docs SET document ="
                " setweight(to_tsvector('simple', name_words), 'A')"
                " || setweight(to_tsvector('simple', alias_words), 'B')"
                " || setweight(to_tsvector('simple', keyword_words), 'C')"
                " || setweight(to_tsvector('simple', body_words), 'D')"
                " WHERE matter_id = :id"
            ),
            [{"id": d.matter_id} for d in docs],
        )
        return
    session.execute(
        text("DELETE FROM matter_fts WHERE rowid = :id"), [{"id": d.matter_id} for d in docs]
    )
    session.execute(
        text(
            "INSERT INTO matter_fts(rowid, name_words, alias_words, keyword_words, body_words)"
            " VALUES (:id, :n, :a, :k, :b)"
        ),
        [
            {
                "id": d.matter_id,
                "n": d.name_words,
                "a": d.alias_words,
                "k": d.keyword_words,
                "b": d.body_words,
            }
            for d in docs
        ],
    )


def _expression(plan: QueryPlan, quote: Callable[[str], str], and_: str, or_: str) -> str:
    def alt(words_: tuple[str, ...]) -> str:
        inner = f" {and_} ".join(quote(w) for w in words_)
        return f"({inner})" if len(words_) > 1 else inner

    def group(g: Group) -> str:
        return "(" + f" {or_} ".join(alt(a) for a in g) + ")"

    combos = itertools.combinations(plan.groups, plan.need)
    return f" {or_} ".join("(" + f" {and_} ".join(group(g) for g in c) + ")" for c in combos)


def match_sql(session: Session, plan: QueryPlan) -> tuple[str, dict[str, str]]:
    """A sub-select of (matter_id, score) for the matters the plan finds; higher is better."""
    if is_postgres(session):
        # Words hold only \w characters (see _WORD_RE), so quoting them as lexemes is safe.
        tsquery = _expression(plan, lambda w: f"'{w}'", "&", "|")
        sql = (
            "SELECT matter_id, ts_rank('{0.05, 0.4, 0.6, 1.0}', document, q) AS score"
            " FROM matter_search_docs, to_tsquery('simple', :tsq) AS q"
            " WHERE document @@ q"
        )
        return sql, {"tsq": tsquery}
    fts_query = _expression(plan, lambda w: '"' + w.replace('"', '""') + '"', "AND", "OR")
    # bm25 is lower-is-better and negative; weights follow the column order of matter_fts.
    sql = (
        "SELECT rowid AS matter_id, -bm25(matter_fts, 10.0, 6.0, 6.0, 0.5) AS score"
        " FROM matter_fts WHERE matter_fts MATCH :fq"
    )
    return sql, {"fq": fts_query}
