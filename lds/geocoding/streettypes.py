"""Street-type words and their abbreviations in the languages of OSM data, as folded text.

Every variant of one type maps to one canonical token, on the index side and the query side alike, so
"Bd des Moulins", "boulevard des moulins" and "Boul. des Moulins" meet. Variants shared between types
("st" is street, saint and Sankt; "pl" is place, Platz, plads and plaza) merge those types into one
class: a wrong merge can only make two streets that differ by nothing else look alike, which costs less
than missing the abbreviation. Spellings are folded (see ``normalize.fold``): lowercase, no diacritics,
ß -> ss, æ -> ae, ø -> o, å -> a.

Sources: the USPS street suffix list (en), La Poste/AFNOR NF Z 10-011 abbreviations (fr), DIN 5008
usage (de), INE/Correos abbreviations (es), Poste Italiane (it), and the Danish, Dutch, Swedish and
Norwegian address conventions (vej/v., gade/g., straat/str., gatan/g., vei/v.).
"""

from __future__ import annotations

# Per language: (full form, abbreviations...). Order within a tuple: the full form first.
TYPES: dict[str, tuple[tuple[str, ...], ...]] = {
    "en": (
        ("street", "st"), ("road", "rd"), ("avenue", "ave", "av"), ("boulevard", "blvd", "bd", "boul", "bvd"),
        ("drive", "dr"), ("lane", "ln"), ("place", "pl"), ("square", "sq"), ("court", "ct"),
        ("terrace", "ter", "terr", "tce"), ("crescent", "cres"), ("highway", "hwy"), ("parkway", "pkwy"),
        ("circle", "cir"), ("close", "cl"), ("alley", "aly"), ("saint", "st"), ("mount", "mt"),
        ("gardens", "gdns"), ("grove", "gr"), ("expressway", "expy"), ("freeway", "fwy"), ("plaza", "plz"),
        ("heights", "hts"), ("junction", "jct"), ("centre", "ctr", "center"),
        # directionals (USPS): "Pennsylvania Avenue NW" is how "...Avenue Northwest" is written
        ("north", "n"), ("south", "s"), ("east", "e"), ("west", "w"), ("northeast", "ne"), ("northwest", "nw"),
        ("southeast", "se"), ("southwest", "sw"),
    ),
    "fr": (
        ("rue", "r"), ("avenue", "av", "ave"), ("boulevard", "bd", "bld", "boul", "bvd", "blvd"), ("place", "pl"),
        ("allee", "alle", "all", "al"), ("chemin", "ch", "chem"), ("impasse", "imp"), ("route", "rte"), ("quai", "qu"),
        ("square", "sq"), ("cours", "crs"), ("faubourg", "fg", "fbg"), ("passage", "pass", "psg"),
        ("esplanade", "esp"), ("montee", "mte"), ("sentier", "sent"), ("escalier", "esc"), ("saint", "st"),
        ("sainte", "ste"), ("promenade", "prom"), ("galerie", "gal"), ("residence", "res"),
        ("lotissement", "lot"), ("carrefour", "carr"), ("traverse", "tra"), ("hameau", "ham"), ("ruelle", "rle"),
    ),
    "de": (
        ("strasse", "str"), ("platz", "pl"), ("allee",), ("weg",), ("gasse",), ("ring",), ("damm",), ("ufer",),
        ("chaussee",), ("sankt", "st"), ("bahnhof", "bhf", "bf"), ("markt",), ("steig",), ("pfad",),
        ("nord", "north"), ("sud", "south"), ("ost", "east"), ("west",),
    ),
    "es": (
        ("calle", "c", "cl", "cll"), ("avenida", "av", "avda", "avd"), ("plaza", "pl", "pza", "plz"),
        ("paseo", "po", "pso"), ("carretera", "ctra", "crta"), ("camino", "cno", "cmno"),
        ("travesia", "trva", "trav"), ("ronda", "rda"), ("glorieta", "gta"), ("callejon", "cjon"),
        ("boulevard", "bulevar", "blvr"), ("santa", "sta"), ("pasaje", "pje"), ("urbanizacion", "urb"),
    ),
    "it": (
        ("via", "v"), ("viale", "vle"), ("piazza", "pza", "pzza", "pz"), ("corso", "cso"), ("largo", "lgo"),
        ("vicolo", "vic", "vlo"), ("strada", "str"), ("piazzale", "ple"), ("salita", "sal"), ("santa", "sta"),
        ("borgo", "bgo"), ("contrada", "cda"), ("localita", "loc"), ("lungomare", "lgm"),
    ),
    "nl": (
        ("straat", "str"), ("laan", "ln"), ("weg",), ("plein", "pln"), ("gracht", "gr"), ("kade", "kd"),
        ("singel",), ("dijk",), ("steeg",), ("sint", "st"), ("markt",), ("dreef",),
    ),
    "da": (
        ("gade", "g"), ("vej", "v"), ("alle",), ("plads", "pl"), ("straede", "str"), ("torv",),
        ("boulevard", "bd"), ("sankt", "skt", "st"), ("vaenge",), ("kaj",), ("vejen",),
    ),
    "sv": (
        ("gatan", "g"), ("vagen", "v"), ("gata",), ("grand",), ("torget",), ("torg",), ("alle",), ("backe",),
        ("sankt", "st"),
    ),
    "no": (("gate", "gt", "g"), ("veien", "vn"), ("vei", "v"), ("plass",), ("alle",)),
    "pt": (
        ("rua", "r"), ("avenida", "av"), ("praca", "pca", "pc"), ("travessa", "tv", "trav"), ("largo", "lg"),
        ("estrada", "estr"), ("alameda", "al"),
    ),
}

# Types written glued to the name in Germanic languages (Clematisweg, Enghavevej, Hauptstr., Kungsgatan).
# Longest first, so "vejen" is tried before "vej" and "gatan" before "gata".
COMPOUND_SUFFIXES: tuple[str, ...] = tuple(
    sorted(
        {
            "strasse", "str", "platz", "allee", "weg", "gasse", "ring", "damm", "ufer", "chaussee", "markt",
            "steig", "pfad", "straat", "laan", "plein", "gracht", "kade", "singel", "dijk", "steeg", "dreef",
            "gade", "vej", "vejen", "alle", "plads", "straede", "torv", "vaenge", "kaj", "gatan", "gata",
            "vagen", "grand", "torget", "torg", "backe", "gate", "veien", "vei", "plass",
        },
        key=lambda s: (-len(s), s),
    )
)

# Abbreviated glued suffixes only count when the word ends with a dot ("Enghavev.", "Istedg.", "Hauptpl.").
DOTTED_COMPOUND_SUFFIXES: tuple[str, ...] = ("str", "pl", "g", "v", "gt", "vn")

# Italian abbreviations with an inner dot ("V.le", "P.za"), rewritten before tokenising.
INNER_DOT = {"v.le": "viale", "p.za": "piazza", "p.zza": "piazza", "c.so": "corso", "p.le": "piazzale", "c.da": "contrada"}


def _canonical_map() -> dict[str, str]:
    """Variant -> canonical token; types sharing a variant fall into one class (union-find)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for groups in TYPES.values():
        for group in groups:
            for variant in group[1:]:
                a, b = find(group[0]), find(variant)
                if a != b:
                    parent[b] = a
            find(group[0])
    classes: dict[str, list[str]] = {}
    for word in list(parent):
        classes.setdefault(find(word), []).append(word)
    canon: dict[str, str] = {}
    for members in classes.values():
        # The shortest variant names the class: it is what an abbreviating user types.
        label = min(members, key=lambda s: (len(s), s))
        for m in members:
            canon[m] = label
    return canon


CANONICAL: dict[str, str] = _canonical_map()


def full_forms() -> dict[str, list[str]]:
    """Canonical token -> its full (unabbreviated) forms, for typo matching on type words."""
    out: dict[str, list[str]] = {}
    for groups in TYPES.values():
        for group in groups:
            label = CANONICAL[group[0]]
            if group[0] not in out.setdefault(label, []):
                out[label].append(group[0])
    return out
