"""The context layer of the compact classifier: words whose toxicity the context cancels.

A character n-gram model sees ``hate`` in "I don't hate them" and ``idiot`` in "he called me an
idiot and I reported it". This layer marks three kinds of span in the normalized text, at training
and at inference alike, so the model never confuses them with direct abuse:

- **negation scope** (``neg_``): after a negator (en, es, de, pt, fr: "not", "n't", "never",
  "no", "nunca", "nadie", "nicht", "kein", "não", "ne", "jamais" ...) up to 4 words, to the end of
  the clause (punctuation or a conjunction such as "but", "and", "pero", "aber", "mas", "mais").
  A clause-final negator ("ich hasse dich nicht", "je les déteste pas", "I hate nobody") negates
  the words before it instead. Not a negation: "not only", "nothing but", "no better than",
  "nichts als", "nada más que", and the imperative "don't be (a/an/such)", which still insults.
- **quoted or reported speech** (``quo_``): a short quotation (at most 5 words, inside a sentence
  of at least 3 more words: "calling someone a 'f****t' is not ok"), the words after a reporting
  verb ("he called me an idiot", "me llamó idiota", "hat mich einen Idioten genannt", "me chamou
  de", "m'a traité de") and after "the word"/"la palabra"/"das Wort".
- **reclaimed self-reference** (``self_``): a short list of reclaimed identity terms (queer, dyke,
  marica, bollera, schwul, Lesbe, bicha, sapatão, viado, gouine, pédé ...) when the speaker
  applies them to themselves: "I'm queer", "as a queer person", "queer and proud", "soy marica",
  "ich bin schwul", "sou sapatão", "je suis gouine".

A marked word reaches the model only as a prefixed word feature (``neg_hate``, ``quo_idiot``,
``self_queer``): its character n-grams are left out. The model learns from the data what such a
word still means (``neg_fucking`` stays profane in "no fucking way"); words it never saw marked
weigh nothing, which is the discount. The cross-validated figures in the model card compare the
model with and without this layer.
"""

# ruff: noqa: RUF001  (the quotation marks of many languages are the point of this module)
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ContextView", "mark_context"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(frozen=True)
class ContextView:
    """The two views the features are built from."""

    char_text: str  # marked words upper-cased (their character n-grams are apart)
    word_text: str  # every word, marked ones prefixed (word n-grams)
    marked: tuple[tuple[str, str], ...] = ()  # (mark, word) pairs, for explanations and tests


_TOKEN = re.compile(r"[\w*@#]+(?:['’][\w*]+)*|[^\w\s]")

_NEGATORS = _words(
    """
    not no never nobody nothing none neither nor cannot without noone dont doesnt didnt isnt
    arent wasnt werent wont wouldnt cant couldnt shouldnt havent hasnt hadnt aint mustnt
    neednt nunca jamás jamas nadie nada ni tampoco ningún ningun ninguna ninguno sin nicht
    kein keine keinen keinem keiner keines nie niemals niemand niemanden niemandem nichts
    ohne weder não nao ninguém ninguem nem sem nenhum nenhuma ne pas jamais personne rien
    sans aucun aucune
    """
)
_CLAUSE_WORDS = _words(
    """
    but and because cause cuz though although however yet or so pero sino porque aunque y o
    aber sondern weil denn obwohl und oder doch mas porém porem e ou mais car et donc
    """
)
# "not only", "nothing but", "no better than", "nichts als", "nada más que": not negations.
_NOT_NEGATION_NEXT = _words(
    """
    only just but merely better more less als mehr weiter más mas que sólo solo apenas
    seulement que plus
    """
)
# Imperatives that still insult: "don't be an idiot", "no seas idiota", "sei nicht so dumm".
_IMPERATIVE_BE = frozenset(["be", "seas", "sea", "sei", "seid", "seja", "sejam", "sois", "soyez"])

# How far negation reaches: a hostile predicate at most 3 words after the negator (or 3 before a
# post-verbal one), and from it 3 words; a copula's complement 3 words.
_SCOPE_LOOKAHEAD = 3
_SCOPE_LOOKBACK = 3
_SCOPE_FORWARD = 4
_SCOPE_COMPLEMENT = 3

# Predicates whose negation cancels hostility ("I don't hate them", "no los odio", "ich will
# ihnen nicht schaden"). Negating anything else ("no fucking way", "nobody likes you") cancels
# nothing, so it is left alone.
_PREDICATES = _words(
    """
    hate hates hated hating despise despises despised kill kills killed killing hurt hurts
    harm harming attack attacking hit beat punch shoot stab rape insult insulting wish
    wished want wanted wanna think thought believe say said saying mean meant deserve
    deserves deserved blame fear call calling support condone endorse agree odio odias odia
    odiamos odian odiar odié odiaba mato matar mataría quiero queremos deseo creo pienso
    digo decir merecen merece merecían desprecio insulto insultar ataco atacar golpear
    lastimar dañar culpo temo apoyo hasse hasst hassen hasste hassten töte töten tötet will
    wollen wünsche wünschen denke glaube sage meine verdienen verdient verachte beleidige
    beleidigen greife schlage verletze verletzen beschuldige fürchte unterstütze odeio odeia
    odiamos odeiam odiar odiei quero queremos desejo acho penso creio digo dizer merecem
    desprezo insultar ataco atacar bato machucar culpo apoio déteste détestons détestent
    détester hais hait haïssons haïssent haïr tue tuer veux voulons souhaite pense crois dis
    dire méritent mérite méprise insulte insulter attaque frappe blesse reproche crains
    soutiens
    """
)
_COPULAS = _words(
    """
    is are am was were be being 're 's 'm you're they're we're he's she's it's i'm youre
    theyre im es son eres soy somos está están estás estoy era eran fue fueron ser ist sind
    bist bin seid war waren sein é são és sou somos está estão estou era eram foi ser est
    sont suis sommes êtes était étaient être c'est
    """
)
_COPULA_NEGATORS = _words(
    """
    isn't aren't wasn't weren't ain't isnt arent wasnt werent aint
    """
)
_POSTVERBAL_NEGATORS = _words(
    """
    nicht nie niemals niemand niemanden niemandem nichts kein keine keinen keinem keiner pas
    jamais rien personne nobody nothing nadie nada nunca ninguém ninguem
    """
)

_QUOTE = re.compile(
    r"(?:(?<![\w'’])'([^'\n]{1,60})'(?![\w'’])"
    r"|\"([^\"\n]{1,60})\""
    r"|“([^”\n]{1,60})”|‘([^’\n]{1,60})’|«([^»\n]{1,60})»|„([^“”\n]{1,60})[“”]"
    r"|‚([^‘’\n]{1,60})[‘’]|‹([^›\n]{1,60})›|「([^」\n]{1,60})」|『([^』\n]{1,60})』)"
)
_QUOTED_MAX_WORDS = 5
_QUOTED_MIN_CONTEXT_WORDS = 3

# Reporting verbs: the words that follow them (up to _REPORTED_SPAN) are what someone else said.
_REPORTING = (
    # en
    ("called", "me"), ("called", "him"), ("called", "her"), ("called", "us"),
    ("called", "them"), ("called", "you"), ("called", "someone"), ("called", "somebody"),
    ("called", "my"), ("called", "his"), ("called", "their"), ("called", "people"),
    ("calls", "me"), ("calls", "him"), ("calls", "her"), ("calls", "us"), ("calls", "them"),
    ("calling", "someone"), ("calling", "somebody"), ("calling", "people"),
    ("calling", "him"), ("calling", "her"), ("calling", "them"), ("calling", "me"),
    ("call", "someone"), ("call", "somebody"), ("call", "people"),
    ("told", "me"), ("said", "i"), ("said", "i'm"), ("said", "that"), ("the", "word"),
    ("the", "term"), ("the", "slur"), ("words", "like"), ("slurs", "like"),
    # es
    ("me", "llamó"), ("me", "llamo"), ("me", "llamaron"), ("le", "llamó"), ("nos", "llamó"),
    ("me", "dijo"), ("me", "dijeron"), ("me", "trató"), ("me", "trataron"), ("me", "insultó"),
    ("la", "palabra"), ("el", "término"), ("el", "insulto"), ("llamar", "a"),
    # de
    ("nannte", "mich"), ("nannten", "mich"), ("nennt", "mich"), ("beschimpfte", "mich"),
    ("beschimpften", "mich"), ("das", "wort"), ("den", "begriff"), ("das", "schimpfwort"),
    # pt
    ("me", "chamou"), ("me", "chamaram"), ("me", "xingou"), ("me", "xingaram"),
    ("a", "palavra"), ("o", "termo"), ("chamar", "alguém"), ("chamar", "alguem"),
    # fr
    ("m'a", "traité"), ("m'a", "traitée"), ("m'ont", "traité"), ("m'ont", "traitée"),
    ("m'a", "appelé"), ("m'a", "appelée"), ("le", "mot"), ("traiter", "quelqu'un"),
)  # fmt: skip
_REPORTING_PAIRS = frozenset(_REPORTING)
# German perfect: "hat mich einen Idioten genannt": the words between are reported.
_DE_AUX = frozenset(["hat", "haben", "hatte", "hatten"])
_DE_OBJECT = frozenset(["mich", "uns", "ihn", "sie", "dich"])
_DE_PARTICIPLE = frozenset(["genannt", "beschimpft", "bezeichnet"])
_REPORTED_SPAN = 3
_ARTICLES = _words(
    """
    a an de da do dos das als ein eine einen einem einer un una unos unas um uma
    """
)

_RECLAIMED = _words(
    """
    queer queers dyke dykes gay gays lesbian lesbians bi bisexual trans marica bollera
    bolleras lesbiana lesbianas travesti schwul schwuler schwule lesbe lesben lesbisch homo
    tunte bicha sapatão sapatao viado sapatona gouine gouines pédé pede lesbienne
    """
)
# Self-reference: a first-person copula right before the term, possibly with an article or
# adverb between ("I'm queer", "soy una bollera", "ich bin so schwul", "je suis gouine"); "we",
# "us", "proud", "fellow" right before it ("us dykes", "proud queer"); a clause that starts with
# "as a", "como", "als", "en tant que" ("as a queer person"); or "and proud" after it.
_SELF_COPULA = _words(
    """
    i'm im am we're were soy somos estoy bin sind sou somos estou suis sommes
    """
)
_SELF_RIGHT_BEFORE = _SELF_COPULA | _words(
    """
    we us proud fellow stolze stolzer fière fier
    """
)
_SELF_FILLERS = _words(
    """
    a an so very really totally proudly un una unos unas muy ein eine einer total sehr stolz
    um uma muito une très
    """
)
_SELF_CLAUSE_START = (
    ("as", "a"),
    ("as", "an"),
    ("como",),
    ("als",),
    ("en", "tant", "que"),
    ("enquanto",),
    ("como", "un"),
    ("como", "una"),
    ("als", "ein"),
    ("als", "eine"),
    ("como", "um"),
    ("como", "uma"),
    ("en", "tant", "qu'"),
)
_SELF_AFTER = frozenset(
    {
        ("and", "proud"),
        ("y", "orgulloso"),
        ("y", "orgullosa"),
        ("und", "stolz"),
        ("e", "orgulhoso"),
        ("e", "orgulhosa"),
        ("com", "orgulho"),
        ("et", "fier"),
        ("et", "fière"),
    }
)


def mark_context(text: str, *, always_abusive: Callable[[str], bool] | None = None) -> ContextView:
    """Mark negated, quoted/reported and reclaimed self-referential words in normalized text.

    ``always_abusive(word)`` names words that negation and bare quotation marks leave unmarked
    (profanity and slurs stay what they are in "no fucking way" or scare quotes); an explicit
    mention ("calling someone a 'f****t'", "the word ...") still marks them.
    """
    text = text.replace("’", "'")
    tokens = _TOKEN.findall(text)
    if not tokens:
        return ContextView(char_text=text, word_text=text)
    marks: list[str | None] = [None] * len(tokens)
    words = [t for t in tokens if t[0].isalnum() or t[0] in "*@#_"]
    _mark_reported(tokens, marks)
    keep = always_abusive or _never
    _mark_quotes(text, tokens, marks, len(words), keep)
    _mark_negation(tokens, marks, keep)
    _mark_reclaimed(tokens, marks)
    if not any(marks):
        return ContextView(char_text=text, word_text=text)
    char_parts: list[str] = []
    word_parts: list[str] = []
    marked: list[tuple[str, str]] = []
    for token, mark in zip(tokens, marks, strict=True):
        if mark is None or not _is_word(token):
            char_parts.append(token)
            word_parts.append(token)
        else:
            char_parts.append(token.upper())
            word_parts.append(f"{mark}_{token}")
            marked.append((mark, token))
    return ContextView(
        char_text=" ".join(char_parts), word_text=" ".join(word_parts), marked=tuple(marked)
    )


def _never(_token: str) -> bool:
    return False


def _is_word(token: str) -> bool:
    return token[0].isalnum() or token[0] in "*_"


def _is_boundary(token: str) -> bool:
    return (not _is_word(token) and token not in ("'", "-")) or token in _CLAUSE_WORDS


def _plain(token: str) -> str:
    return token.replace("'", "")


def _is_negator(token: str) -> bool:
    return (
        token in _NEGATORS
        or _plain(token) in _NEGATORS
        or token.endswith("n't")
        or token.startswith("n'")
    )


def _mark_negation(tokens: list[str], marks: list[str | None], keep: Callable[[str], bool]) -> None:
    n = len(tokens)
    for i, token in enumerate(tokens):
        if not _is_negator(token):
            continue
        nxt = tokens[i + 1] if i + 1 < n else ""
        prev = tokens[i - 1] if i >= 1 else ""
        if nxt in _NOT_NEGATION_NEXT or nxt in _IMPERATIVE_BE or prev in _IMPERATIVE_BE:
            continue
        # 1. a hostile predicate shortly after the negator: "I don't (really) hate them"
        k = _find(tokens, i + 1, _SCOPE_LOOKAHEAD, _PREDICATES)
        if k >= 0:
            _mark_span(tokens, marks, k, _SCOPE_FORWARD, keep)
            continue
        # 2. a copula's complement: "they are not vermin", "no son basura", "du bist nicht
        #    dumm", "ils ne sont pas des ordures", "isn't stupid"
        if prev in _COPULAS or token in _COPULA_NEGATORS:
            _mark_span(tokens, marks, i + 1, _SCOPE_COMPLEMENT, keep)
            continue
        if nxt in _COPULAS:
            start = i + 2
            if start < n and tokens[start] in ("pas", "jamais", "plus"):
                start += 1
            _mark_span(tokens, marks, start, _SCOPE_COMPLEMENT, keep)
            continue
        # 3. a post-verbal negator after a hostile predicate: "ich hasse dich nicht",
        #    "je les déteste pas", "I hate nobody", "ich hasse nicht alle"
        if token in _POSTVERBAL_NEGATORS:
            k = _find_back(tokens, i - 1, _SCOPE_LOOKBACK, _PREDICATES)
            if k >= 0:
                _mark_span(tokens, marks, k, i - k + 1 + _SCOPE_COMPLEMENT, keep)


def _find(tokens: list[str], start: int, window: int, wanted: frozenset[str]) -> int:
    for j in range(start, min(len(tokens), start + window)):
        if _is_boundary(tokens[j]):
            return -1
        if tokens[j] in wanted:
            return j
    return -1


def _find_back(tokens: list[str], start: int, window: int, wanted: frozenset[str]) -> int:
    for j in range(start, max(-1, start - window), -1):
        if _is_boundary(tokens[j]):
            return -1
        if tokens[j] in wanted:
            return j
    return -1


def _mark_span(
    tokens: list[str],
    marks: list[str | None],
    start: int,
    length: int,
    keep: Callable[[str], bool],
) -> None:
    """Mark up to ``length`` words from ``start`` as negated, stopping at the clause's end."""
    j = start
    while j < len(tokens) and j < start + length and not _is_boundary(tokens[j]):
        if marks[j] is None and not _is_negator(tokens[j]) and not keep(tokens[j]):
            marks[j] = "neg"
        j += 1


def _mark_quotes(
    text: str,
    tokens: list[str],
    marks: list[str | None],
    n_words: int,
    keep: Callable[[str], bool],
) -> None:
    if not any(q in text for q in "'\"“‘«„‚‹「『"):
        return
    quoted: list[str] = []
    for match in _QUOTE.finditer(text):
        inner = next(g for g in match.groups() if g is not None)
        inner_tokens = [t for t in _TOKEN.findall(inner) if _is_word(t)]
        if not inner_tokens or len(inner_tokens) > _QUOTED_MAX_WORDS:
            continue
        if n_words - len(inner_tokens) < _QUOTED_MIN_CONTEXT_WORDS:
            continue
        quoted.extend(inner_tokens)
    if not quoted:
        return
    # Mark the quoted words in order of appearance (a quoted word may also occur unquoted).
    want = quoted
    k = 0
    inside = False
    for idx, token in enumerate(tokens):
        if token in ("'", '"', "“", "”", "‘", "«", "»", "„", "‚", "‹", "›", "「", "」", "『", "』"):
            inside = not inside if token in ("'", '"') else token in "“‘«„‚‹「『"
            continue
        if inside and k < len(want) and token == want[k]:
            if marks[idx] is None and not keep(token):
                marks[idx] = "quo"
            k += 1


def _mark_reported(tokens: list[str], marks: list[str | None]) -> None:
    n = len(tokens)
    for i in range(n - 1):
        start = -1
        if (tokens[i], tokens[i + 1]) in _REPORTING_PAIRS:
            start = i + 2
            # "said that i was": skip to after the copula
            while start < n and tokens[start] in (
                "that",
                "i",
                "i'm",
                "was",
                "am",
                "is",
                "he",
                "she",
            ):
                start += 1
        elif tokens[i] in _DE_AUX and tokens[i + 1] in _DE_OBJECT:
            end = next((j for j in range(i + 2, min(n, i + 8)) if tokens[j] in _DE_PARTICIPLE), -1)
            for j in range(i + 2, end if end > 0 else i + 2):
                if _is_word(tokens[j]) and tokens[j] not in _ARTICLES:
                    marks[j] = "quo"
            continue
        if start < 0:
            continue
        j = start
        count = 0
        while j < n and count < _REPORTED_SPAN and not _is_boundary(tokens[j]):
            if tokens[j] not in _ARTICLES and tokens[j] not in ("'", '"'):
                marks[j] = "quo"
                count += 1
            j += 1


def _mark_reclaimed(tokens: list[str], marks: list[str | None]) -> None:
    for i, token in enumerate(tokens):
        if token in _RECLAIMED and _self_referential(tokens, i):
            marks[i] = "self"


def _self_referential(tokens: list[str], i: int) -> bool:
    prev = tokens[i - 1] if i >= 1 else ""
    prev2 = tokens[i - 2] if i >= 2 else ""
    if prev in _SELF_RIGHT_BEFORE or (prev in _SELF_FILLERS and prev2 in _SELF_COPULA):
        return True
    if tuple(tokens[i + 1 : i + 3]) in _SELF_AFTER:
        return True
    for cue in _SELF_CLAUSE_START:
        start = i - len(cue)
        if start >= 0 and tuple(tokens[start:i]) == cue:
            return start == 0 or _is_boundary(tokens[start - 1])
    return False
