"""Text normalisation shared by the index build and the query side.

``fold`` removes case and diacritics (æ -> ae, ø -> o, å -> a, ß -> ss, é -> e); ``tokens`` splits folded
text into canonical tokens: street types and their abbreviations collapse to one token
(``streettypes.CANONICAL``), glued types are split off (Clematisweg -> clematis weg, Enghavevej ->
enghave vej, Istedg. -> isted gade), initials join (H.C. -> hc), house numbers keep their ranges and
letters (12b, 1-3, 12bis). Both sides call the same functions, so whatever the rules do, they do it to
index and query alike.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from lds.geocoding.streettypes import CANONICAL, COMPOUND_SUFFIXES, DOTTED_COMPOUND_SUFFIXES, INNER_DOT

# Letters NFKD does not decompose, folded the way people type them on a keyboard without them.
_SPECIAL = {
    "æ": "ae", "ø": "o", "ß": "ss", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i",
    "ħ": "h", "ŧ": "t", "ŋ": "n", "ſ": "s", "’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'",
}


def _strip(c: str) -> str:
    return "".join(x for x in unicodedata.normalize("NFKD", c) if not unicodedata.combining(x))


# One translate() pass handles Latin-1 and Latin Extended-A/B (the letters of European OSM names);
# anything else goes through NFKD.
_FOLD = str.maketrans({**{chr(c): _strip(chr(c)) for c in range(0xC0, 0x250) if _strip(chr(c)) != chr(c)}, **_SPECIAL})
_GENITIVE = re.compile(r"(?<=[^\W\d_])'s\b")
_NUMBER_RANGE = re.compile(r"(?<=\d)\s*([-/])\s*(?=\d)")
_NUMBER_LETTER = re.compile(r"\b(\d+)\s+(bis|ter|quater|[a-z])\b(?![.'\-])")
_INNER_DOT = re.compile("|".join(re.escape(k) for k in sorted(INNER_DOT, key=len, reverse=True)))
_WORD = re.compile(r"(\d+[^\W_]*(?:[-/]\d+[^\W_]*)*|[^\W\d_]+(?:\d+[^\W_]*)?|[,;])(\.?)")
# A house number: digits, an optional suffix of up to three letters (12b, 8bc, 12bis) that is no
# ordinal (1st, 2nd, 1er), an optional range or fraction (1-3, 12/14).
HOUSE_NUMBER = re.compile(r"^\d{1,6}(?!(?:st|nd|rd|th|er|re|eme|ere)\b)(?:[a-z]{1,3}|bis|ter|quater)?(?:[-/]\d{1,6}[a-z]{0,2})?$")
_SPLIT_MIN = 3  # a glued type is split off only when at least this many letters remain
_SUFFIX_LENGTHS = sorted({len(x) for x in COMPOUND_SUFFIXES}, reverse=True)
_SUFFIXES = frozenset(COMPOUND_SUFFIXES)
_DOTTED_LENGTHS = sorted({len(x) for x in DOTTED_COMPOUND_SUFFIXES}, reverse=True)
_DOTTED = frozenset(DOTTED_COMPOUND_SUFFIXES)


def fold(text: str) -> str:
    """Lowercase without diacritics: "Allée Ørsteds Straße" -> "allee orsteds strasse"."""
    text = text.lower()
    if text.isascii():
        return text
    text = text.translate(_FOLD)
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@dataclass(slots=True)
class Token:
    """One canonical token of a text, with where it came from (for house-number adjacency)."""

    text: str
    pos: int  # index of the source word (a split compound gives two tokens with one pos)
    seg: int  # comma-separated part of the text it came from
    raw: str  # the folded source word before splitting/canonicalisation


def _split_compound(word: str, dotted: bool) -> tuple[str, ...] | None:
    n = len(word)
    for length in _SUFFIX_LENGTHS:
        if n - length >= _SPLIT_MIN and word[-length:] in _SUFFIXES:
            suffix = word[-length:]
            return (word[:-length], CANONICAL.get(suffix, suffix))
    if dotted:
        for length in _DOTTED_LENGTHS:
            if n - length >= _SPLIT_MIN and word[-length:] in _DOTTED:
                suffix = word[-length:]
                return (word[:-length], CANONICAL.get(suffix, suffix))
    return None


@lru_cache(maxsize=200_000)
def canonical_words(word: str, dotted: bool = False) -> tuple[str, ...]:
    """The canonical token(s) of one folded word."""
    if word[0].isdigit():
        return (word,)
    canon = CANONICAL.get(word)
    if canon is not None:
        return (canon,)
    return _split_compound(word, dotted) or (word,)


def tokens(text: str) -> list[Token]:
    """Canonical tokens of free text (a query or a name)."""
    s = fold(text)
    if "." in s and _INNER_DOT.search(s):
        s = _INNER_DOT.sub(lambda m: INNER_DOT[m.group(0)], s)
    if "'" in s:
        s = _GENITIVE.sub("s", s).replace("'", " ")
    if "-" in s or "/" in s:
        s = _NUMBER_RANGE.sub(r"\1", s)
    s = _NUMBER_LETTER.sub(r"\1\2", s)
    out: list[Token] = []
    seg = pos = 0
    initials: list[str] = []
    initials_dotted = False
    for word, dot in _WORD.findall(s):
        if word == "," or word == ";":
            if initials:
                pos = _flush_initials(out, initials, initials_dotted, pos, seg)
            seg += 1
            continue
        if len(word) == 1 and word.isalpha():
            initials.append(word)
            initials_dotted = bool(dot)
            continue
        if initials:
            pos = _flush_initials(out, initials, initials_dotted, pos, seg)
        for t in canonical_words(word, bool(dot)):
            out.append(Token(t, pos, seg, word))
        pos += 1
    if initials:
        _flush_initials(out, initials, initials_dotted, pos, seg)
    return out


def _flush_initials(out: list[Token], initials: list[str], dotted: bool, pos: int, seg: int) -> int:
    """Consecutive single letters are one word ("H. C." -> hc); a lone letter stays itself."""
    word = "".join(initials)
    initials.clear()
    words = canonical_words(word, dotted) if len(word) > 1 else (CANONICAL.get(word, word),)
    for t in words:
        out.append(Token(t, pos, seg, word))
    return pos + 1


def token_texts(text: str) -> list[str]:
    """Just the canonical token strings (index side)."""
    return [t.text for t in tokens(text)]


@lru_cache(maxsize=200_000)
def name_key(text: str) -> str:
    """A grouping key for names: "H.C. Ørsteds Vej" and "H C Ørstedsvej" give the same key."""
    return " ".join(token_texts(text))


def is_house_number(token: str) -> bool:
    return HOUSE_NUMBER.match(token) is not None


def strip_accents(text: str) -> str:
    """Diacritics removed but case kept ("Ørsteds Allé" -> "Orsteds Alle"): how people type without them."""
    table = {"æ": "ae", "Æ": "Ae", "ø": "o", "Ø": "O", "ß": "ss", "œ": "oe", "Œ": "Oe", "ł": "l", "Ł": "L"}
    text = "".join(table.get(c, c) for c in text)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
