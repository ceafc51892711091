"""Tell which of a product's variant options is its size, its colour or its material, whatever language the shop
names them in."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from enum import StrEnum


class OptionKind(StrEnum):
    SIZE = "size"
    COLOUR = "colour"
    MATERIAL = "material"


OPTION_NAMES: dict[OptionKind, frozenset[str]] = {
    OptionKind.SIZE: frozenset(
        """size sizes shoesize ringsize taille tailles pointure grosse groesse konfektionsgrosse talla tallas taglia
        taglie misura tamanho tamanhos maat maten storlek storrelse koko rozmiar velikost meret beden razmer""".split()
    ),
    OptionKind.COLOUR: frozenset(
        """color colors colour colours couleur couleurs coloris farbe farben colores colore colori cor cores kleur
        kleuren farg farge farve vari kolor barva szin renk tsvet""".split()
    ),
    OptionKind.MATERIAL: frozenset(
        """material materials fabric matiere tissu stoff werkstoff materiale tessuto materiaal stof tejido tecido
        tyg""".split()
    ),
}
"""Option names, folded (lower case, no accents, no spaces), that shops in English, French, German, Spanish,
Italian, Portuguese, Dutch, the Nordic languages, Polish, Czech, Hungarian, Turkish and Russian (transliterated) use
for a size, a colour or a material: Shopify's "Größe" folds to `grosse`, "Färg" to `farg`, "Shoe size" to
`shoesize`."""


def fold_option_name(name: str) -> str:
    """Lower-case an option name, strip accents and spaces, spell ß as ss (and ø, ł as o, l), so "Größe" and
    "GROSSE" compare equal."""
    spelled = name.replace("ß", "ss").replace("ẞ", "ss").replace("ø", "o").replace("Ø", "O").replace("ł", "l")
    decomposed = unicodedata.normalize("NFKD", spelled.replace("Ł", "L"))
    return "".join(c for c in decomposed if c.isalnum()).lower()


def option_kind(name: str) -> OptionKind | None:
    """Return whether an option name means size, colour or material, or None for any other option (fit, style)."""
    folded = fold_option_name(name)
    return next((kind for kind, names in OPTION_NAMES.items() if folded in names), None)


def option_named(names: Iterable[str], kind: OptionKind) -> str | None:
    """Return the first of a product's option names that is its size (or colour) option, as the shop spells it."""
    return next((name for name in names if option_kind(name) is kind), None)


def option_value(options: Mapping[str, str], kind: OptionKind) -> str | None:
    """Return a variant's size (or colour) value, or None when none of its options is one."""
    name = option_named(options, kind)
    return None if name is None else options[name]
