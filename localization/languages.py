"""Language codes: ISO 639-1 everywhere inside Vigil, whatever a model or a data set calls them.

Detectors, translation packages and data sets name languages in several ways: ISO 639-1
("es"), ISO 639-3 ("spa"), ISO 639-2/B ("ger"), individual languages of a macrolanguage
("cmn" for Mandarin, "arz" for Egyptian Arabic), legacy codes ("iw") and locale tags
("pt-BR", "zh_TW"). Vigil stores ISO 639-1 so that a region's languages, a detector's answer
and a translation pair compare equal.
"""

from __future__ import annotations

# ISO 639-1 -> ISO 639-3 (and ISO 639-2/B where it differs), the full ISO 639-1 list.
_ISO639_1_TO_3: dict[str, tuple[str, ...]] = {
    "aa": ("aar",), "ab": ("abk",), "ae": ("ave",), "af": ("afr",), "ak": ("aka",),
    "am": ("amh",), "an": ("arg",), "ar": ("ara",), "as": ("asm",), "av": ("ava",),
    "ay": ("aym",), "az": ("aze",), "ba": ("bak",), "be": ("bel",), "bg": ("bul",),
    "bi": ("bis",), "bm": ("bam",), "bn": ("ben",), "bo": ("bod", "tib"), "br": ("bre",),
    "bs": ("bos",), "ca": ("cat",), "ce": ("che",), "ch": ("cha",), "co": ("cos",),
    "cr": ("cre",), "cs": ("ces", "cze"), "cu": ("chu",), "cv": ("chv",), "cy": ("cym", "wel"),
    "da": ("dan",), "de": ("deu", "ger"), "dv": ("div",), "dz": ("dzo",), "ee": ("ewe",),
    "el": ("ell", "gre"), "en": ("eng",), "eo": ("epo",), "es": ("spa",), "et": ("est",),
    "eu": ("eus", "baq"), "fa": ("fas", "per"), "ff": ("ful",), "fi": ("fin",), "fj": ("fij",),
    "fo": ("fao",), "fr": ("fra", "fre"), "fy": ("fry",), "ga": ("gle",), "gd": ("gla",),
    "gl": ("glg",), "gn": ("grn",), "gu": ("guj",), "gv": ("glv",), "ha": ("hau",),
    "he": ("heb",), "hi": ("hin",), "ho": ("hmo",), "hr": ("hrv",), "ht": ("hat",),
    "hu": ("hun",), "hy": ("hye", "arm"), "hz": ("her",), "ia": ("ina",), "id": ("ind",),
    "ie": ("ile",), "ig": ("ibo",), "ii": ("iii",), "ik": ("ipk",), "io": ("ido",),
    "is": ("isl", "ice"), "it": ("ita",), "iu": ("iku",), "ja": ("jpn",), "jv": ("jav",),
    "ka": ("kat", "geo"), "kg": ("kon",), "ki": ("kik",), "kj": ("kua",), "kk": ("kaz",),
    "kl": ("kal",), "km": ("khm",), "kn": ("kan",), "ko": ("kor",), "kr": ("kau",),
    "ks": ("kas",), "ku": ("kur",), "kv": ("kom",), "kw": ("cor",), "ky": ("kir",),
    "la": ("lat",), "lb": ("ltz",), "lg": ("lug",), "li": ("lim",), "ln": ("lin",),
    "lo": ("lao",), "lt": ("lit",), "lu": ("lub",), "lv": ("lav",), "mg": ("mlg",),
    "mh": ("mah",), "mi": ("mri", "mao"), "mk": ("mkd", "mac"), "ml": ("mal",), "mn": ("mon",),
    "mr": ("mar",), "ms": ("msa", "may"), "mt": ("mlt",), "my": ("mya", "bur"), "na": ("nau",),
    "nb": ("nob",), "nd": ("nde",), "ne": ("nep",), "ng": ("ndo",), "nl": ("nld", "dut"),
    "nn": ("nno",), "no": ("nor",), "nr": ("nbl",), "nv": ("nav",), "ny": ("nya",),
    "oc": ("oci",), "oj": ("oji",), "om": ("orm",), "or": ("ori",), "os": ("oss",),
    "pa": ("pan",), "pi": ("pli",), "pl": ("pol",), "ps": ("pus",), "pt": ("por",),
    "qu": ("que",), "rm": ("roh",), "rn": ("run",), "ro": ("ron", "rum"), "ru": ("rus",),
    "rw": ("kin",), "sa": ("san",), "sc": ("srd",), "sd": ("snd",), "se": ("sme",),
    "sg": ("sag",), "si": ("sin",), "sk": ("slk", "slo"), "sl": ("slv",), "sm": ("smo",),
    "sn": ("sna",), "so": ("som",), "sq": ("sqi", "alb"), "sr": ("srp",), "ss": ("ssw",),
    "st": ("sot",), "su": ("sun",), "sv": ("swe",), "sw": ("swa",), "ta": ("tam",),
    "te": ("tel",), "tg": ("tgk",), "th": ("tha",), "ti": ("tir",), "tk": ("tuk",),
    "tl": ("tgl",), "tn": ("tsn",), "to": ("ton",), "tr": ("tur",), "ts": ("tso",),
    "tt": ("tat",), "tw": ("twi",), "ty": ("tah",), "ug": ("uig",), "uk": ("ukr",),
    "ur": ("urd",), "uz": ("uzb",), "ve": ("ven",), "vi": ("vie",), "vo": ("vol",),
    "wa": ("wln",), "wo": ("wol",), "xh": ("xho",), "yi": ("yid",), "yo": ("yor",),
    "za": ("zha",), "zh": ("zho", "chi"), "zu": ("zul",),
}  # fmt: skip

# Individual languages that Vigil treats as their macrolanguage (what people and regions mean
# by "Arabic", "Chinese", "Malay"...), and codes that detectors use for them.
_INDIVIDUAL_TO_1 = {
    "cmn": "zh", "yue": "zh", "wuu": "zh", "arb": "ar", "arz": "ar", "apc": "ar", "ary": "ar",
    "zsm": "ms", "pes": "fa", "prs": "fa", "ekk": "et", "lvs": "lv", "swh": "sw", "npi": "ne",
    "ory": "or", "uzn": "uz", "azj": "az", "azb": "az", "khk": "mn", "plt": "mg", "ydd": "yi",
    "gaz": "om", "pnb": "pa", "ckb": "ku", "kmr": "ku", "fil": "tl", "quy": "qu", "nor": "no",
}  # fmt: skip

# Withdrawn ISO 639-1 codes that old software still emits.
_LEGACY_1 = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro"}

_TO_1: dict[str, str] = {
    **{three: one for one, threes in _ISO639_1_TO_3.items() for three in threes},
    **_INDIVIDUAL_TO_1,
}

ISO639_1 = frozenset(_ISO639_1_TO_3)


def _primary_subtag(code: str) -> str:
    return code.strip().lower().replace("_", "-").split("-", 1)[0]


def to_iso639_1(code: str) -> str:
    """ISO 639-1 for a code in any common form: "spa" -> "es", "pt-BR" -> "pt", "es" -> "es".

    Raises ``ValueError`` naming the code when it is not a language Vigil knows (including
    ISO 639-3 languages that have no ISO 639-1 code, such as "ceb").
    """
    primary = _primary_subtag(code)
    primary = _LEGACY_1.get(primary, primary)
    if primary in ISO639_1:
        return primary
    if primary in _TO_1:
        return _TO_1[primary]
    raise ValueError(
        f"unknown language code {code!r}: expected ISO 639-1 (e.g. 'es') or ISO 639-3 "
        "(e.g. 'spa') for a language that has an ISO 639-1 code"
    )


def normalize_language(code: str) -> str:
    """ISO 639-1 when the language has one, else the code itself in lower case.

    For detector labels: fastText's lid.176 knows languages without an ISO 639-1 code
    ("ceb", "war"); they keep their own code instead of failing the whole answer.
    """
    try:
        return to_iso639_1(code)
    except ValueError:
        return _primary_subtag(code)


def is_iso639_1(code: str) -> bool:
    """Whether ``code`` is exactly an ISO 639-1 code in Vigil's form (lower case, two letters)."""
    return code in ISO639_1
