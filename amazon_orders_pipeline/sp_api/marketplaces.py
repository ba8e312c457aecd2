"""Amazon's marketplaces and the SP-API region that serves each (developer-docs.amazon.com: SP-API endpoints,
marketplace IDs). A refresh token belongs to one region, and a region's endpoint serves only its marketplaces."""

# marketplace id -> (country code, region)
MARKETPLACES: dict[str, tuple[str, str]] = {
    "A2EUQ1WTGCTBG2": ("CA", "NA"),
    "ATVPDKIKX0DER": ("US", "NA"),
    "A1AM78C64UM0Y8": ("MX", "NA"),
    "A2Q3Y263D00KWC": ("BR", "NA"),
    "A28R8C7NBKEWEA": ("IE", "EU"),
    "A1RKKUPIHCS9HS": ("ES", "EU"),
    "A1F83G8C2ARO7P": ("UK", "EU"),
    "A13V1IB3VIYZZH": ("FR", "EU"),
    "AMEN7PMS3EDWL": ("BE", "EU"),
    "A1805IZSGTT6HS": ("NL", "EU"),
    "A1PA6795UKMFR9": ("DE", "EU"),
    "APJ6JRA9NG5V4": ("IT", "EU"),
    "A2NODRKZP88ZB9": ("SE", "EU"),
    "AE08WJ6YKNBMC": ("ZA", "EU"),
    "A1C3SOZRARQ6R3": ("PL", "EU"),
    "A17E79C6D8DWNP": ("SA", "EU"),
    "ARBP9OOSHTCHU": ("EG", "EU"),
    "A33AVAJ2PDY3EV": ("TR", "EU"),
    "A2VIGQ35RCS4UG": ("AE", "EU"),
    "A21TJRUUN4KGV": ("IN", "EU"),
    "A19VAU5U5O7RUS": ("SG", "FE"),
    "A39IBJ37TRP1C6": ("AU", "FE"),
    "A1VC38T7YXB528": ("JP", "FE"),
}


def region_of(marketplace_id: str) -> str | None:
    entry = MARKETPLACES.get(marketplace_id)
    return entry[1] if entry else None


def describe(marketplace_id: str) -> str:
    entry = MARKETPLACES.get(marketplace_id)
    return f"{marketplace_id} ({entry[0]}, region {entry[1]})" if entry else f"{marketplace_id} (not a marketplace)"
