"""Reference data for the synthetic legacy systems: names, streets, codes, units and schools."""

from __future__ import annotations

from contracts import reference as contract_codes

# The municipalities Tillit's contracts know (code -> name), from the contracts' code list.
MUNICIPALITIES: dict[str, str] = contract_codes.municipalities()
LAHTI = contract_codes.LAHTI
VALID_MUNICIPALITY_CODES = frozenset(MUNICIPALITIES)
# Codes that real extracts still carry: merged municipalities (Nastola, Hämeenkoski) and 999.
RETIRED_MUNICIPALITY_CODES = ("532", "283", "999")

# Where families moving into Lahti come from (code, relative weight).
PREVIOUS_MUNICIPALITIES: tuple[tuple[str, int], ...] = (
    ("016", 14), ("098", 16), ("111", 8), ("560", 9), ("316", 4), ("142", 3), ("576", 2),
    ("781", 2), ("081", 1), ("091", 12), ("049", 5), ("092", 5), ("837", 5), ("853", 2),
    ("564", 2), ("179", 2), ("286", 3), ("109", 3), ("505", 2), ("297", 1), ("638", 1),
    ("245", 1), ("186", 1), ("106", 2), ("694", 1), ("444", 1), ("609", 1), ("167", 1),
    ("405", 1), ("285", 1), ("491", 1), ("905", 1), ("743", 1), ("698", 1), ("211", 1),
    ("536", 1), ("734", 1),
)  # fmt: skip

# Streets by municipality as "street|postal code|relative weight"; Lahti spans 15100-15900.
_STREET_TABLE = """
398|Aleksanterinkatu|15110|6  398|Hämeenkatu|15110|5  398|Vesijärvenkatu|15140|6
398|Kauppakatu|15140|4  398|Rautatienkatu|15110|4  398|Saimaankatu|15140|4
398|Vapaudenkatu|15100|3  398|Mariankatu|15110|3  398|Loviisankatu|15100|2
398|Harjukatu|15100|3  398|Kirkkokatu|15140|2  398|Lahdenkatu|15140|2
398|Mukkulankatu|15210|5  398|Kariston Kuusikatu|15230|3  398|Karistonkatu|15230|3
398|Ahtialantie|15240|4  398|Jalkarannantie|15300|3  398|Kiveriönkatu|15320|3
398|Möysänkatu|15340|2  398|Liipolankatu|15500|3  398|Renkomäentie|15540|2
398|Nastolantie|15550|2  398|Villähteentie|15560|2  398|Launeenkatu|15610|4
398|Kärpäsenkatu|15680|3  398|Rakokiventie|15700|3  398|Tiirismaantie|15800|2
398|Hennalankatu|15810|2  398|Kolavankatu|15820|2  398|Jokimaankatu|15850|2
398|Kivimaankatu|15850|2  398|Pesäkallionkatu|15880|2  398|Okeroistentie|15900|2
398|Ruoriniemenkatu|15150|2  398|Kannaksenkatu|15160|2  398|Tonttilankatu|15170|2
098|Hämeenlinnantie|15870|3  098|Salpakankaantie|15880|2  098|Tiilijärventie|15860|1
098|Hollolan kirkkotie|16730|1  016|Vääksyntie|17200|2  016|Rantatie|17200|1
016|Urheilutie|17320|1  111|Kauppakatu|18100|2  111|Reumantie|18120|1  111|Savontie|18100|1
560|Erkontie|16300|2  560|Kuivannontie|16300|1  316|Järvelänkatu|16600|1
142|Kausalantie|47400|1  576|Kellosalmentie|17500|1  781|Sysmäntie|19700|1
081|Kuortinkuja|19600|1
"""


def _streets() -> dict[str, tuple[tuple[str, str, int], ...]]:
    table: dict[str, list[tuple[str, str, int]]] = {}
    for entry in _STREET_TABLE.replace("\n", "  ").split("  "):
        if entry.strip():
            code, street, postal, weight = entry.strip().split("|")
            table.setdefault(code, []).append((street, postal, int(weight)))
    return {code: tuple(rows) for code, rows in table.items()}


STREETS = _streets()
# Share of households by home municipality within the extract's area.
HOME_MUNICIPALITIES: tuple[tuple[str, int], ...] = (
    ("398", 850), ("098", 50), ("016", 25), ("111", 25), ("560", 25), ("316", 8), ("142", 6),
    ("576", 4), ("781", 4), ("081", 3),
)  # fmt: skip

SURNAMES = (
    "Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Heikkinen",
    "Koskinen", "Järvinen", "Lehtonen", "Lehtinen", "Saarinen", "Salminen", "Heinonen",
    "Niemi", "Heikkilä", "Kinnunen", "Salonen", "Turunen", "Salo", "Laitinen", "Tuominen",
    "Rantanen", "Karjalainen", "Jokinen", "Mattila", "Savolainen", "Lahtinen", "Ahonen",
    "Seppälä", "Kärkkäinen", "Hyvönen", "Väisänen", "Pöllänen", "Lindström", "Grönroos",
    "Räsänen", "Mäenpää", "Kivelä", "Ylönen", "Hölttä", "Ketola", "Anttila", "Pelkonen",
)  # fmt: skip
NON_ASCII_SURNAMES = tuple(name for name in SURNAMES if not name.isascii())

ADULT_FIRST_NAMES: dict[bool, tuple[str, ...]] = {
    True: ("Juha", "Mikko", "Timo", "Matti", "Jari", "Antti", "Sami", "Janne", "Petri", "Ville",
           "Tuomas", "Jukka", "Markku", "Pekka", "Mika", "Heikki", "Jyrki", "Tero", "Väinö", "Esa"),
    False: ("Anna", "Tiina", "Päivi", "Sari", "Minna", "Laura", "Johanna", "Riikka", "Heidi",
            "Sanna", "Satu", "Marjo", "Katja", "Hanna", "Pirjo", "Kirsi", "Jaana", "Mervi",
            "Sirpa", "Tyyne"),
}  # fmt: skip
CHILD_FIRST_NAMES: dict[bool, tuple[str, ...]] = {
    True: ("Eelis", "Väinö", "Onni", "Eino", "Leo", "Elias", "Oliver", "Toivo", "Veeti", "Niilo",
           "Aarni", "Lenni", "Otso", "Eetu", "Vilho", "Hugo", "Mikael", "Joel", "Lauri", "Pyry"),
    False: ("Aino", "Siiri", "Helmi", "Olivia", "Isla", "Ellen", "Sofia", "Eevi", "Lilja", "Aada",
            "Venla", "Pihla", "Enni", "Kerttu", "Iida", "Hilla", "Minea", "Saimi", "Elsa", "Nelli"),
}  # fmt: skip
MIDDLE_NAMES: dict[bool, tuple[str, ...]] = {
    True: ("Johannes", "Juhani", "Olavi", "Kalevi", "Tapani", "Ilmari", "Mikael", "Aleksi"),
    False: ("Maria", "Johanna", "Kaarina", "Helena", "Sofia", "Emilia", "Aurora", "Annikki"),
}

# Early childhood education units: (unit code, name, postal code).
DAYCARE_UNITS: tuple[tuple[str, str, str], ...] = (
    ("PK0101", "Päiväkoti Keskusta", "15110"), ("PK0102", "Päiväkoti Vesijärvi", "15140"),
    ("PK0210", "Päiväkoti Mukkula", "15210"), ("PK0230", "Päiväkoti Karisto", "15230"),
    ("PK0240", "Päiväkoti Ahtiala", "15240"), ("PK0300", "Päiväkoti Jalkaranta", "15300"),
    ("PK0320", "Päiväkoti Kiveriö", "15320"), ("PK0340", "Päiväkoti Möysä", "15340"),
    ("PK0500", "Päiväkoti Liipola", "15500"), ("PK0540", "Päiväkoti Renkomäki", "15540"),
    ("PK0550", "Päiväkoti Nastola", "15550"), ("PK0560", "Päiväkoti Villähde", "15560"),
    ("PK0610", "Päiväkoti Laune", "15610"), ("PK0680", "Päiväkoti Kärpänen", "15680"),
    ("PK0700", "Päiväkoti Rakokivi", "15700"), ("PK0810", "Päiväkoti Hennala", "15810"),
    ("PK0850", "Päiväkoti Kivimaa", "15850"), ("PK0880", "Päiväkoti Metsäpeikot", "15880"),
    ("PK0900", "Päiväkoti Okeroinen", "15900"), ("PK0160", "Päiväkoti Kannas", "15160"),
)  # fmt: skip
SWEDISH_DAYCARE_UNIT = ("PK0990", "Daghemmet Lärkan", "15140")

# Schools: (school code, name, lowest grade, highest grade); grade 0 is pre-primary.
FINNISH_SCHOOLS: tuple[tuple[str, str, int, int], ...] = (
    ("LHT011", "Mukkulan koulu", 0, 6), ("LHT012", "Ahtialan koulu", 0, 6),
    ("LHT013", "Jalkarannan koulu", 0, 6), ("LHT014", "Kiveriön koulu", 0, 6),
    ("LHT015", "Liipolan koulu", 0, 6), ("LHT016", "Möysän koulu", 0, 6),
    ("LHT017", "Renkomäen koulu", 0, 6), ("LHT018", "Kärpäsen koulu", 0, 6),
    ("LHT019", "Villähteen koulu", 0, 6), ("LHT020", "Tonttilan koulu", 0, 6),
    ("LHT031", "Kivimaan koulu", 0, 9), ("LHT032", "Salpausselän koulu", 0, 9),
    ("LHT033", "Kunnaksen koulu", 0, 9), ("LHT034", "Rakokiven koulu", 0, 9),
    ("LHT041", "Tiirismaan koulu", 7, 9), ("LHT042", "Lahden yhteiskoulu", 7, 9),
)  # fmt: skip
SWEDISH_SCHOOL = ("LHT090", "Svenska samskolan i Lahtis", 0, 9)

FAMILY_SERVICE_UNITS: dict[str, tuple[str, ...]] = {
    "398": ("Lahden perhekeskus", "Perhetyö, Lahti itä", "Perhetyö, Lahti länsi",
            "Lastensuojelun avohuolto, Lahti", "Lapsiperheiden kotipalvelu, Lahti"),
    "098": ("Hollolan perhekeskus",),
    "016": ("Asikkalan perhepalvelut",),
    "111": ("Heinolan perhekeskus",),
    "560": ("Orimattilan perhepalvelut",),
}  # fmt: skip
REGIONAL_FAMILY_UNIT = "Päijät-Hämeen perhepalvelut"
