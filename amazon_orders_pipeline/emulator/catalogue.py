"""The synthetic seller's world: its marketplaces (currency, tax, price level), its catalogue and local titles, and
the names and places its buyers have."""

from __future__ import annotations

from decimal import Decimal

# marketplace id -> (name, currency, minor-unit digits, country, tax rate, price factor vs USD, id prefix)
MARKETPLACES: dict[str, tuple[str, str, int, str, Decimal, Decimal, str]] = {
    "ATVPDKIKX0DER": ("Amazon.com", "USD", 2, "US", Decimal("0.08"), Decimal("1"), "114"),
    "A1F83G8C2ARO7P": ("Amazon.co.uk", "GBP", 2, "GB", Decimal("0.20"), Decimal("0.8"), "202"),
    "A1PA6795UKMFR9": ("Amazon.de", "EUR", 2, "DE", Decimal("0.19"), Decimal("0.92"), "302"),
    "A1VC38T7YXB528": ("Amazon.co.jp", "JPY", 0, "JP", Decimal("0.10"), Decimal("150"), "250"),
}

# sku, asin, title, base price in USD
CATALOGUE: list[tuple[str, str, str, Decimal]] = [
    ("ECHO-DOT-5-CHARCOAL", "B09B8V1LZ3", "Echo Dot (5th Gen) smart speaker, Charcoal", Decimal("49.99")),
    ("FIRE-TV-4K-MAX", "B0BP9SNVH9", "Fire TV Stick 4K Max streaming device", Decimal("59.99")),
    ("KINDLE-PW-16GB", "B08KTZ8249", "Kindle Paperwhite 16 GB", Decimal("149.99")),
    ("USB-C-CABLE-2M", "B07THHQMHM", "USB-C to USB-C cable, 2 m, braided", Decimal("12.49")),
    ("YOGA-MAT-6MM", "B01LP0U5X0", "Yoga mat 6 mm, non-slip", Decimal("24.95")),
    ("COFFEE-BEANS-1KG", "B07Q2QF3K8", "Whole coffee beans, medium roast, 1 kg", Decimal("19.90")),
    ("LED-DESK-LAMP", "B073QN4JB8", "LED desk lamp with USB charging port", Decimal("32.00")),
    ("WATER-BOTTLE-750", "B083GBKQ1Y", "Insulated water bottle 750 ml", Decimal("21.99")),
    ("NOTEBOOK-A5-DOT", "B0196FK2CY", "A5 dotted notebook, hardcover", Decimal("9.99")),
    ("HDMI-SWITCH-3P", "B01N6M5B3A", "HDMI switch, 3 ports, 4K", Decimal("17.45")),
    ("PHONE-STAND-ALU", "B07F8S18D5", "Aluminium phone stand", Decimal("13.99")),
    ("GARDEN-GLOVES-L", "B00BFH3M6G", "Garden gloves, size L, 3 pairs", Decimal("11.50")),
]

# Titles as the marketplace shows them, where they differ from the catalogue's: characters each region's report
# encoding must carry (cp932 for JP; Cp1252's £, €, ß and dashes for the UK and DE).
LOCAL_TITLES: dict[tuple[str, str], str] = {
    ("JP", "ECHO-DOT-5-CHARCOAL"): "Echo Dot (第5世代) スマートスピーカー チャコール",
    ("JP", "FIRE-TV-4K-MAX"): "Fire TV Stick 4K Max ストリーミングメディアプレーヤー",
    ("JP", "KINDLE-PW-16GB"): "Kindle Paperwhite 16GB 電子書籍リーダー",
    ("JP", "COFFEE-BEANS-1KG"): "コーヒー豆 中煎り 1kg",
    ("JP", "YOGA-MAT-6MM"): "ヨガマット 6mm 滑り止め",
    ("DE", "GARDEN-GLOVES-L"): "Gartenhandschuhe, Größe L, 3 Paar",
    ("DE", "COFFEE-BEANS-1KG"): "Kaffeebohnen, mittlere Röstung, 1 kg – Vorteilspack",
    ("DE", "LED-DESK-LAMP"): "LED-Schreibtischlampe mit USB-Ladeanschluss (Stromkosten unter 2 € im Jahr)",
    ("GB", "NOTEBOOK-A5-DOT"): "A5 dotted notebook, hardcover – £1 from each sale to charity",
    ("GB", "WATER-BOTTLE-750"): "Insulated water bottle 750 ml — keeps drinks cold for 24 hours",
}

FIRST_NAMES = ["Alex", "Maria", "Kenji", "Sarah", "Jonas", "Aiko", "Carlos", "Emma", "Luca", "Priya"]
LAST_NAMES = ["Smith", "Schmidt", "Tanaka", "Thompson", "Garcia", "Rossi", "Novak", "Sato", "Brown", "Ivanova"]
CITIES = {
    "US": [("Seattle", "WA", "98101"), ("Austin", "TX", "73301"), ("Boston", "MA", "02108")],
    "GB": [("London", "England", "SW1A 1AA"), ("Leeds", "England", "LS1 4AP"), ("Cardiff", "Wales", "CF10 1EP")],
    "DE": [("Berlin", "Berlin", "10115"), ("Munich", "Bavaria", "80331"), ("Hamburg", "Hamburg", "20095")],
    "JP": [("Tokyo", "Tokyo", "150-0002"), ("Osaka", "Osaka", "530-0001"), ("Sapporo", "Hokkaido", "060-0001")],
}
STREETS = ["Main Street", "Oak Avenue", "Hauptstrasse", "Sakura-dori", "High Street", "Lindenweg"]
