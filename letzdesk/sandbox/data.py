"""Deterministic, realistic shipments for the sandbox.

The data has to look like what a Luxembourg vendor really receives (accented names, cross-border
customers, repeated items, sparse optional fields) so that demos, tests and benchmarks exercise the
same edge cases as production. It also has to be reproducible byte for byte from (count, seed), so
every random draw comes from one ``random.Random(seed)`` in a fixed order and nothing iterates a set
or dict whose order could depend on PYTHONHASHSEED. Shipments are drawn one after another from that
stream, so the shipments of count N are the first N shipments of any larger count.

Shipments are plain dicts keyed by the schema's field names, ready for the default resolvers. Money
is kept as integer cents (``priceCents``, ``totalCents``) next to the float the schema serves, and
``_brand`` carries ``__typename`` so the union's type resolver need not guess. Variant dicts are
shared between the units that reference them: treat generated data as read-only.
"""

from __future__ import annotations

import base64
import logging
import random
import unicodedata
from bisect import bisect
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

logger = logging.getLogger(__name__)

# Orders fall in the 60 days before this instant, so the data never depends on the clock.
REFERENCE_DATE = datetime(2026, 11, 20, 18, 0, 0)
HISTORY_DAYS = 60

# fmt: off
# (variant number, sku, mpn, price in cents, tradeId parser, GTIN without check digit, en, fr, de, brand)
_CATALOGUE: tuple[tuple[Any, ...], ...] = (
    (7701, "MUG-LUX-350", "ML350-W", 2490, "gtin13", "541234567890", "Luxembourg mug 350 ml",
     "Tasse Luxembourg 350 ml", "Luxemburg-Tasse 350 ml", "Lëtzebuerger Keramik"),
    (7702, "MUG-LEIW-300", "ML300-R", 1990, "gtin13", "541234567891", "Red lion mug 300 ml",
     "Tasse Roude Léiw 300 ml", "Tasse Roter Löwe 300 ml", "Lëtzebuerger Keramik"),
    (7703, "ESPR-SET-2", None, 1650, "gtin13", "541234567892", "Espresso cups, set of 2",
     "Tasses à expresso, lot de 2", "Espressotassen, 2er-Set", "Lëtzebuerger Keramik"),
    (8812, "TOTE-NAT", None, 2490, "gtin13", "400638133393", "Canvas tote bag", "Sac cabas en toile",
     "Stofftasche", None),
    (8813, "TOTE-LEIW", "TL-01", 1490, "gtin13", "541876500012", "Red lion tote bag", "Tote bag Roude Léiw",
     "Tragetasche Roter Löwe", "Wëllef Textil"),
    (9101, "RIES-GPC-75", "RGPC-2024", 1850, "gtin13", "541998800101", "Riesling Grand Premier Cru 75 cl",
     "Riesling Grand Premier Cru 75 cl", "Riesling Grand Premier Cru 75 cl", "Domaine Kuerzwénkel"),
    (9102, "CREM-BRUT-75", "CB-75", 1490, "gtin13", "541998800102", "Crémant de Luxembourg brut 75 cl",
     "Crémant de Luxembourg brut 75 cl", "Crémant de Luxembourg brut 75 cl", "Caves Réimecher"),
    (9103, "CREM-ROSE-75", "CR-75", 1690, "gtin13", "541998800103", "Crémant rosé 75 cl", "Crémant rosé 75 cl",
     "Crémant Rosé 75 cl", "Caves Réimecher"),
    (9104, "PINOT-GRIS-75", None, 1280, "gtin13", "541998800104", "Pinot gris 75 cl", "Pinot gris 75 cl",
     "Grauburgunder 75 cl", "Domaine Kuerzwénkel"),
    (9105, "AUXER-75", "AX-75", 1050, None, None, "Auxerrois 75 cl", "Auxerrois 75 cl", "Auxerrois 75 cl", None),
    (9201, "JAM-QUETSCH-370", "QJ-370", 690, "gtin13", "541555000201", None, "Confiture de quetsches 370 g",
     "Zwetschgenmarmelade 370 g", "Confiturerie Schëtter"),
    (9202, "JAM-MIRAB-250", "MJ-250", 580, "gtin13", "541555000202", "Mirabelle plum jam 250 g",
     "Confiture de mirabelles 250 g", "Mirabellenkonfitüre 250 g", "Confiturerie Schëtter"),
    (9203, "HONEY-500", None, 1150, "gtin13", "541555000203", "Forest honey 500 g", "Miel de forêt 500 g",
     "Waldhonig 500 g", "Beieleit Éislek"),
    (9301, "BOOK-KACHBUCH", None, 2900, "isbn13", "978999590012", "Luxembourgish cookbook",
     "Livre de cuisine luxembourgeoise", "Luxemburger Kochbuch", "Éditions Guttland"),
    (9302, "BOOK-HIST-FR", None, 2400, "isbn13", "978291234567", "History of Luxembourg",
     "Histoire du Luxembourg", None, "Éditions Guttland"),
    (9303, "BOOK-WANDERN-DE", None, 1980, "isbn13", "978312345678", None, "Randonnées au Mullerthal",
     "Wandern im Müllerthal", "Verlag Mëllerdall"),
    (9304, "BOOK-GUIDE-EN", None, 1500, "isbn13", "978191234567", "Luxembourg City guide",
     "Guide de la ville de Luxembourg", "Stadtführer Luxemburg", None),
    (9305, "BOOK-KIDS-LB", "KB-07", 1450, "isbn13", "978999590045", "The little dragon of the Bock",
     "Le petit dragon du Bock", "Der kleine Drache vom Bock", "Éditions Guttland"),
    (9401, "CANDLE-LAV-200", "CL-200", 1790, "gtin13", "541777000401", "Lavender candle 200 g",
     "Bougie lavande 200 g", "Lavendelkerze 200 g", "Atelier Gaëlle"),
    (9402, "CANDLE-BEES-2", None, 990, "gtin13", "541777000402", "Beeswax taper candles, pair",
     "Bougies en cire d'abeille, la paire", "Bienenwachskerzen, Paar", "Beieleit Éislek"),
    (9403, "CANDLE-XMAS", "CX-24", 2150, None, None, "Christmas candle", "Bougie de Noël", "Weihnachtskerze",
     "Atelier Gaëlle"),
    (9501, "SOAP-OLIVE", "SO-100", 590, "gtin8", "5417770", "Olive oil soap", "Savon à l'huile d'olive",
     "Olivenölseife", None),
    (9502, "SOAP-HONEY", "SH-100", 650, "gtin8", "5417771", "Honey soap", "Savon au miel", "Honigseife",
     "Beieleit Éislek"),
    (9601, "TEA-LINDEN", None, 840, "gtin13", "400512300601", "Linden blossom tea", "Tisane de tilleul",
     "Lindenblütentee", None),
    (9602, "COFFEE-500", "KU-500", 1420, "gtin13", "541333000602", "Coffee beans 500 g", "Café en grains 500 g",
     "Kaffeebohnen 500 g", "Kaffisrousterei Uelzecht"),
    (9603, "PRALINES-250", "PZ-250", 2200, "gtin13", "541333000603", "Assorted pralines 250 g",
     "Assortiment de pralines 250 g", "Pralinenmischung 250 g", "Schokolatenhaus Zéng"),
    (9604, "CHOC-DARK-100", "PZ-D100", 420, "gtin8", "5413330", "Dark chocolate bar 100 g",
     "Tablette de chocolat noir 100 g", None, "Schokolatenhaus Zéng"),
    (9605, "GIN-50", "LG-50", 3490, "gtin13", "541333000605", "Luxembourg dry gin 50 cl",
     "Gin sec luxembourgeois 50 cl", "Luxemburger Dry Gin 50 cl", "Distillerie Äischdall"),
    (9606, "BEER-BOX-6", None, 1990, "gtin13", "541333000606", "Craft beer gift box, 6 x 33 cl",
     "Coffret de bières artisanales, 6 x 33 cl", "Craft-Bier-Geschenkbox, 6 x 33 cl", "Brauerei Äischdall"),
    (9701, "POSTER-GRUND-A3", "PG-A3", 2900, "gtin13", "541888000701", "Grund poster A3", "Affiche du Grund A3",
     "Poster Grund A3", None),
    (9702, "POSTCARDS-10", None, 950, None, None, "Postcards, set of 10", "Cartes postales, lot de 10",
     "Postkarten, 10er-Set", None),
    (9703, "CALENDAR-2027", "CAL27", 1600, "gtin13", "541888000703", "Wall calendar 2027", "Calendrier mural 2027",
     "Wandkalender 2027", "Éditions Guttland"),
    (9704, "PUZZLE-1000", "PZL-1000", 2490, "gtin13", "400512300704", "Luxembourg puzzle, 1000 pieces",
     "Puzzle Luxembourg, 1000 pièces", "Luxemburg-Puzzle, 1000 Teile", None),
    (9801, "SCARF-WOOL-GR", "SW-GR", 4900, "gtin13", "541876500801", "Grey wool scarf", "Écharpe en laine grise",
     "Grauer Wollschal", "Wëllef Textil"),
    (9802, "SOCKS-LEIW-39", "SL-3942", 1200, "gtin13", "541876500802", "Red lion socks 39-42",
     "Chaussettes Roude Léiw 39-42", "Socken Roter Löwe 39-42", "Wëllef Textil"),
    (9803, "CAP-LEIW", "CP-01", 2200, "gtin12", "08527900011", "Red lion cap", "Casquette Roude Léiw",
     "Kappe Roter Löwe", "Wëllef Textil"),
    (9804, "KEYRING-LEIW", None, 600, "gtin8", "5418765", "Red lion key ring", "Porte-clés Roude Léiw",
     "Schlüsselanhänger Roter Löwe", None),
    (9805, "UMBRELLA-LU", "UM-LU", 2990, "gtin12", "08527900012", "Luxembourg umbrella", "Parapluie Luxembourg",
     "Regenschirm Luxemburg", "Wëllef Textil"),
    (9901, "BOARD-OAK-40", "OB-40", 3900, None, None, "Oak cutting board 40 cm", "Planche à découper en chêne 40 cm",
     "Eichen-Schneidebrett 40 cm", "Atelier Gaëlle"),
    (9902, "OPENER-BRASS", None, 890, None, None, "Brass bottle opener", "Décapsuleur en laiton",
     "Flaschenöffner aus Messing", "Distillerie Äischdall"),
    (9903, "PLATE-CERAM-27", "PC-27", 3450, None, None, "Ceramic plate 27 cm", "Assiette en céramique 27 cm",
     "Keramikteller 27 cm", "Lëtzebuerger Keramik"),
)

# (iso, country name, share of customers, e-mail domain, phone patterns: each "{}" becomes a random digit)
_COUNTRIES = (
    ("LU", "Luxembourg", 78, "example.lu", ("+352 621 {}{}{} {}{}{}", "+352 661 {}{}{} {}{}{}",
                                            "+352 691 {}{}{} {}{}{}", "+352 26 {}{} {}{} {}{}")),
    ("FR", "France", 10, "example.fr", ("+33 6 {}{} {}{} {}{} {}{}", "+33 3 82 {}{} {}{} {}{}")),
    ("DE", "Germany", 8, "example.de", ("+49 151 {}{}{}{}{}{}{}{}", "+49 651 {}{}{}{}{}{}")),
    ("BE", "Belgium", 4, "example.fr", ("+32 47{} {}{} {}{} {}{}", "+32 63 {}{} {}{} {}{}")),
)
_CITIES = {
    "LU": (("Luxembourg", ("1616", "1724", "2449", "2540", "1930")), ("Esch-sur-Alzette", ("4130", "4131", "4240")),
           ("Differdange", ("4530", "4560", "4577")), ("Dudelange", ("3440", "3450", "3461")),
           ("Ettelbruck", ("9010", "9050", "9080")), ("Diekirch", ("9201", "9220", "9240")),
           ("Wiltz", ("9530", "9554")), ("Echternach", ("6440", "6460")), ("Grevenmacher", ("6740", "6760")),
           ("Mersch", ("7540", "7560")), ("Remich", ("5531", "5550")), ("Clervaux", ("9710", "9740")),
           ("Vianden", ("9410", "9420")), ("Pétange", ("4750", "4760")), ("Bettembourg", ("3236", "3260")),
           ("Strassen", ("8011", "8041")), ("Mamer", ("8211", "8253")), ("Käerjeng", ("4940", "4970"))),
    "FR": (("Metz", ("57000", "57050")), ("Thionville", ("57100",)), ("Longwy", ("54400",)),
           ("Yutz", ("57970",))),
    "DE": (("Trier", ("54290", "54292", "54294")), ("Saarbrücken", ("66111", "66117", "66119")),
           ("Perl", ("66706",))),
    "BE": (("Arlon", ("6700",)), ("Aubange", ("6790",)), ("Bastogne", ("6600",))),
}
_STREETS = {
    "LU": ("Rue de la Gare", "Grand-Rue", "Avenue de la Libération", "Route d'Arlon", "Haaptstrooss",
           "Äerenzdallstrooss", "Rue de l'Église", "Rue du Moulin", "Boulevard Royal", "Rue Principale",
           "Montée de la Pétrusse", "Rue Émile Mayrisch", "Kierchestrooss", "Route de Luxembourg", "Rue des Prés"),
    "FR": ("Rue Serpenoise", "Rue de Paris", "Avenue Foch", "Place de la République", "Rue des Jardins"),
    "DE": ("Hauptstraße", "Bahnhofstraße", "Saarstraße", "Simeonstraße", "Schillerstraße"),
    "BE": ("Grand-Rue", "Rue des Faubourgs", "Avenue de Longwy", "Rue de Bastogne"),
}
_FIRST = {
    "lu": ("Léa", "Noémie", "Gilles", "Yves", "Tom", "Luc", "Anne", "Claude", "Joëlle", "Gaëlle", "Zoé", "Noël",
           "Mariette", "Fränz", "Jang", "Mireille", "Ben", "Lis"),
    "fr": ("Jérôme", "Françoise", "Thérèse", "Hélène", "Benoît", "Céline", "Clément", "Amélie", "Loïc", "Anaïs",
           "Élodie", "Gérard", "Inès", "Mathéo"),
    "de": ("Jürgen", "Jörg", "Björn", "Käthe", "Günther", "Uwe", "Lena", "Sophie", "Tobias", "Lukas", "Hannah",
           "Marie-Luise"),
    "pt": ("João", "Inês", "Conceição", "Gonçalo", "Ana", "Tiago"),
}
_LAST = {
    "lu": ("Mëller", "Schëtter", "Wagner", "Schmit", "Weber", "Hoffmann", "Thill", "Kieffer", "Schiltz", "Reuter",
           "Kremer", "Majerus", "Faber", "Welter", "Goedert", "Biever", "Feller", "Jacoby"),
    "fr": ("Dupont", "Lefèvre", "Béranger", "Girard", "Leclerc", "Lemaître", "Moreau", "Fournier", "Rémy", "Mercier"),
    "de": ("Müller", "Schäfer", "Becker", "Groß", "Weiß", "Köhler", "Schröder", "Krüger", "Jäger", "Meißner"),
    "pt": ("Da Silva", "Gonçalves", "Ferreira", "Pereira", "Rodrigues"),
}
# Which name pools a customer in each country draws from, with weights.
_ORIGINS = {"LU": (("lu", 55), ("fr", 15), ("de", 12), ("pt", 18)), "FR": (("fr", 100),), "DE": (("de", 100),),
            "BE": (("fr", 85), ("lu", 15))}
_LOCALES = {"LU": (45, 40, 15), "FR": (90, 0, 10), "DE": (0, 90, 10), "BE": (80, 5, 15)}  # weights of fr, de, en
_COMPANY_FORMS = {"LU": ("{} Sàrl", "{} S.A.", "Boulangerie {}", "{} & Fils Sàrl"), "FR": ("{} Sàrl", "{} S.A."),
                  "DE": ("{} GmbH", "{} Bau GmbH"), "BE": ("{} S.A.", "{} Sàrl")}
# fmt: on
_UNIT_COUNT_WEIGHTS = (38, 30, 17, 9, 6)  # for 1..5 units
_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 8, 7, 6, 6, 6, 7, 8, 9, 9, 8, 5, 2)  # shoppers sleep at night


def opaque_id(kind: str, number: int) -> str:
    """Encode an id the way the live API's ids look: base64 of "<Type>-<n>"."""
    return base64.b64encode(f"{kind}-{number}".encode()).decode("ascii")


def gtin_check_digit(body: str) -> str:
    """GS1 check digit (GTIN-8/12/13/14 and ISBN-13): weights 3,1,3,… from the right."""
    total = sum(int(digit) * (3 if position % 2 == 0 else 1) for position, digit in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


class _Weighted:
    """A weighted choice whose cumulative table is built once; ``random.choices`` rebuilds it on every call,
    which dominated generation time."""

    def __init__(self, pairs: Any) -> None:
        self.values = [value for value, _ in pairs]
        self.cumulative = []
        total = 0
        for _, weight in pairs:
            total += weight
            self.cumulative.append(total)
        self.total = total

    def draw(self, rng: random.Random) -> Any:
        return self.values[bisect(self.cumulative, rng.random() * self.total)]


def _choice(rng: random.Random, items: Any) -> Any:
    """Like ``rng.choice`` (one draw from the same stream) without its per-call overhead."""
    return items[int(rng.random() * len(items))]


def _below(rng: random.Random, limit: int) -> int:
    """A uniform integer in [0, limit), for limits far below 2**53."""
    return int(rng.random() * limit)


_COUNTRY = {iso: (name, domain, phone) for iso, name, _, domain, phone in _COUNTRIES}
_COUNTRY_PICK = _Weighted([(iso, share) for iso, _, share, _, _ in _COUNTRIES])
_ORIGIN_PICK = {iso: _Weighted(pairs) for iso, pairs in _ORIGINS.items()}
_LOCALE_PICK = {
    iso: _Weighted(list(zip(("fr", "de", "en"), weights, strict=True))) for iso, weights in _LOCALES.items()
}
_UNIT_COUNT_PICK = _Weighted(list(zip(range(1, 6), _UNIT_COUNT_WEIGHTS, strict=True)))
_HOUR_PICK = _Weighted(list(zip(range(24), _HOUR_WEIGHTS, strict=True)))


def _build_catalogue() -> list[dict[str, Any]]:
    """Turn the catalogue table into variant dicts once per generation; units share them."""
    variants = []
    for number, sku, mpn, cents, parser, body, en, fr, de, brand in _CATALOGUE:
        trade_id = None if parser is None else {"number": body + gtin_check_digit(body), "parser": parser}
        if brand is None:
            brand_value: dict[str, Any] = {"__typename": "BrandUnknown", "id": None}
        else:
            brand_value = {"__typename": "Brand", "name": brand}
        variants.append(
            {
                "id": opaque_id("Variant", number),
                "sku": sku,
                "mpn": mpn,
                "price": cents / 100,
                "priceCents": cents,
                "tradeId": trade_id,
                "product": {"name": {"en": en, "fr": fr, "de": de}, "_brand": brand_value},
            }
        )
    return variants


@cache
def _ascii_slug(text: str) -> str:
    """Fold accents away for e-mail local parts ("Mëller" → "meller", "Groß" → "gross")."""
    folded = unicodedata.normalize("NFKD", text.replace("ß", "ss")).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum() or ch == "-")


def _digits(rng: random.Random, pattern: str) -> str:
    """Fill each ``{}`` of a phone pattern with one random digit."""
    slots = pattern.count("{}")
    return pattern.format(*f"{_below(rng, 10**slots):0{slots}d}")


def _last_sunday(year: int, month: int) -> date:
    last = date(year, month + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() + 1) % 7)


@cache
def _summer_time(year: int) -> tuple[datetime, datetime]:
    """Local wall-clock bounds of summer time: last Sunday of March 02:00 to last Sunday of October 03:00."""
    start, end = _last_sunday(year, 3), _last_sunday(year, 10)
    return datetime(start.year, start.month, start.day, 2), datetime(end.year, end.month, end.day, 3)


def _completed_at(rng: random.Random) -> str:
    """A checkout time in the history window, mostly during waking hours, with Luxembourg's offset."""
    day = REFERENCE_DATE - timedelta(days=1 + _below(rng, HISTORY_DAYS))
    seconds = _below(rng, 3600)
    local = datetime(day.year, day.month, day.day, _HOUR_PICK.draw(rng), seconds // 60, seconds % 60)
    start, end = _summer_time(local.year)
    return local.isoformat() + ("+02:00" if start <= local < end else "+01:00")


def _address(rng: random.Random, iso: str, first: str, last: str) -> dict[str, Any]:
    """One address in a country; company and phone are often missing, as in real orders."""
    country_name, _, phone_patterns = _COUNTRY[iso]
    city, zip_codes = _choice(rng, _CITIES[iso])
    number = str(1 + _below(rng, 180))
    suffix = rng.random()
    if suffix < 0.08:
        number += _choice(rng, "ab")
    elif suffix < 0.11:
        number = f"{number}-{int(number) + 2}"
    company = _choice(rng, _COMPANY_FORMS[iso]).format(last) if rng.random() < 0.08 else None
    phone = _digits(rng, _choice(rng, phone_patterns)) if rng.random() >= 0.25 else None
    return {
        "firstName": first,
        "lastName": last,
        "company": company,
        "streetName": _choice(rng, _STREETS[iso]),
        "streetNumber": number,
        "city": city,
        "zipCode": _choice(rng, zip_codes),
        "phone": phone,
        "country": {"name": country_name, "iso": iso},
    }


def _person(rng: random.Random, iso: str) -> tuple[str, str]:
    origin = _ORIGIN_PICK[iso].draw(rng)
    return _choice(rng, _FIRST[origin]), _choice(rng, _LAST[origin])


def _units(rng: random.Random, catalogue: list[dict[str, Any]], next_unit: int) -> list[dict[str, Any]]:
    """1 to 5 units; a unit often repeats the previous variant, because that is how quantity is expressed."""
    units: list[dict[str, Any]] = []
    previous = None
    for offset in range(_UNIT_COUNT_PICK.draw(rng)):
        variant = previous if previous is not None and rng.random() < 0.4 else _choice(rng, catalogue)
        previous = variant
        shown = None if rng.random() < 0.01 else variant  # a variant deleted since the order
        units.append({"id": opaque_id("InventoryUnit", next_unit + offset), "state": "unconfirmed", "variant": shown})
    return units


def _unique_number(rng: random.Random, prefix: str, digits: int, taken: set[str]) -> str:
    """A random human number (H…, R…) that no earlier shipment used; the set is only looked up, never iterated."""
    while True:
        number = f"{prefix}{10 ** (digits - 1) + _below(rng, 9 * 10 ** (digits - 1))}"
        if number not in taken:
            taken.add(number)
            return number


def generate_shipments(count: int, seed: int) -> list[dict[str, Any]]:
    """Generate ``count`` unconfirmed shipments, identical for identical (count, seed)."""
    rng = random.Random(seed)
    catalogue = _build_catalogue()
    shipment_id, order_id, unit_id = 400_000 + _below(rng, 200_000), 800_000 + _below(rng, 190_000), 100_000
    taken: set[str] = set()
    shipments = []

    for _ in range(count):
        shipment_id += 1 + _below(rng, 40)  # other vendors' shipments and orders sit in the gaps
        order_id += 1 + _below(rng, 40)
        iso = _COUNTRY_PICK.draw(rng)
        first, last = _person(rng, iso)
        ship_address = _address(rng, iso, first, last)

        roll = rng.random()
        if roll < 0.05:
            bill_address = None
        elif roll < 0.15:
            same_person = rng.random() < 0.5
            bill_first, bill_last = (first, last) if same_person else _person(rng, iso)
            bill_address = _address(rng, iso, bill_first, bill_last)
            if same_person:  # billed to the customer's business
                bill_address["company"] = _choice(rng, _COMPANY_FORMS[iso]).format(last)
        else:
            bill_address = {**ship_address}

        local_part = f"{_ascii_slug(first)}.{_ascii_slug(last)}"
        if rng.random() < 0.2:
            local_part += str(1 + _below(rng, 99))
        email = f"{local_part}@{_COUNTRY[iso][1]}"
        locale = _LOCALE_PICK[iso].draw(rng)

        units = _units(rng, catalogue, unit_id)
        unit_id += len(units)
        total_cents = sum(unit["variant"]["priceCents"] for unit in units if unit["variant"] is not None)

        shipments.append(
            {
                "id": opaque_id("Shipment", shipment_id),
                "number": _unique_number(rng, "H", 11, taken),
                "state": "unconfirmed",
                "order": {
                    "id": opaque_id("Order", order_id),
                    "number": _unique_number(rng, "R", 9, taken),
                    "email": email,
                    "total": total_cents / 100,
                    "totalCents": total_cents,
                    "completedAt": _completed_at(rng),
                    "locale": locale,
                    "shipAddress": ship_address,
                    "billAddress": bill_address,
                },
                "inventoryUnits": units,
                "tracking": None,
            }
        )

    logger.debug("Generated %d shipments from seed %d", count, seed)
    return shipments
