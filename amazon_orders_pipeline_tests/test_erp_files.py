"""The ERP's request files, line by line: what each line becomes, and that a bad line stops none of the others."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from amazon_orders_pipeline.writes.mfn.config import load_carriers
from amazon_orders_pipeline.writes.mfn.files import CANCELLATION, SHIPMENT, package_reference_id, parse_file

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ORDER, OTHER = "114-1111111-2222222", "114-3333333-4444444"


@pytest.fixture(scope="module")
def carriers():
    return load_carriers()


def by_line(parsed) -> dict[int, tuple[str, str | None]]:
    return {o.line_number: (o.outcome, o.reason) for o in parsed.lines}


def test_json_lines_each_bad_line_has_its_reason_and_the_good_ones_proceed(carriers):
    good = (b'{"type": "shipment", "amazon_order_id": "' + ORDER.encode() + b'", "carrier": " ups ", '
            b'"tracking_number": "1Z1", "ship_date": "2026-11-27T09:00:00+02:00", '
            b'"lines": [{"order_item_id": "111", "quantity": 1}, {"sku": "ECHO", "quantity": "2"}]}')
    lines = [
        good,
        good.replace(b'"ups"', b'"Pigeon Post"').replace(b'" ups "', b'"Pigeon Post"'),  # unknown carrier
        good.replace(b"2026-11-27T09:00:00+02:00", b"2026-12-24T09:00:00Z"),  # in the future
        good.replace(b"2026-11-27T09:00:00+02:00", b"27/11/2026"),  # unparseable
        good.replace(b'"tracking_number": "1Z1", ', b""),  # no tracking number
        good.replace(b"1Z1", b"1Z\xff\xfe"),  # not UTF-8
        b'{"type": "cancellation", "amazon_order_id": "' + OTHER.encode() + b'", "reason": "buyercanceled"}',
        b'{"type": "shipment", "amazon_order_id": "114-1", "carrier": "UPS"}',  # not an order id
        b'{"type": "refund", "amazon_order_id": "' + OTHER.encode() + b'"}',
        good.replace(b'"quantity": 1', b'"quantity": 0'),
        good[: len(good) // 2],  # truncated: the file's last line, cut
    ]
    parsed = parse_file("erp/2026-11-27.jsonl", b"\n".join(lines), carriers, NOW)
    outcomes = by_line(parsed)
    assert [n for n, (o, _) in outcomes.items() if o == "accepted"] == [1, 7]
    reasons = {n: r for n, (o, r) in outcomes.items() if o == "invalid"}
    assert "unknown carrier 'Pigeon Post'" in reasons[2] and "carrier mapping" in reasons[2]
    assert "in the future" in reasons[3]
    assert "not an ISO 8601 date" in reasons[4]
    assert reasons[5] == "tracking_number is missing"
    assert reasons[6].startswith("not UTF-8 text")
    assert "not an Amazon order id" in reasons[8]
    assert "type must be" in reasons[9]
    assert "quantity must be a whole number" in reasons[10]
    assert reasons[11] == "not valid JSON (the file may be truncated)"
    assert len(outcomes) == len(lines)  # every line has an outcome: nothing is silently dropped

    shipment, cancellation = parsed.requests
    assert shipment.kind == SHIPMENT and shipment.carrier.code == "UPS"
    assert shipment.ship_date == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    assert [(i.order_item_id, i.sku, i.quantity) for i in shipment.items] == [("111", None, 1), (None, "ECHO", 2)]
    assert shipment.request_id == f"shipment:{ORDER}:{package_reference_id(ORDER, '1Z1')}"
    assert cancellation.kind == CANCELLATION and cancellation.reason == "BuyerCanceled"


def test_a_csv_package_spans_rows_and_one_bad_row_holds_back_its_whole_package(carriers):
    header = "type,amazon_order_id,order_item_id,sku,quantity,carrier,shipping_method,tracking_number,ship_date,reason"
    third = "114-5555555-6666666"
    rows = [
        f"shipment,{ORDER},111,,1,DHL,Express,T-1,2026-11-26,",
        f"shipment,{ORDER},222,,2,DHL,Express,T-1,2026-11-26,",  # the same package
        f"shipment,{OTHER},333,,1,DHL,Express,T-2,2026-11-26,",
        f"shipment,{OTHER},444,,1,Owl,Express,T-2,2026-11-26,",  # unknown carrier: package T-2 is held back
        f"shipment,{third},777,,1,usps,,T-3,2026-11-26T15:00:00Z,",
        f"shipment,{third},,ECHO,2,USPS,,T-3,2026-11-26T15:00:00Z,",  # package T-3, by SKU
        f"shipment,{ORDER},555,,1,UPS,Ground,T-1,2026-11-26,",  # disagrees with line 2: package T-1 is held back
        f"cancellation,{OTHER},,,,,,,,NoInventory",
        f"shipment,{ORDER},666,,1,DHL",  # the file ends here: truncated
    ]
    content = ("\ufeff" + header + "\r\n" + "\r\n".join(rows)).encode()
    parsed = parse_file("inbox/erp.CSV", content, carriers, NOW)
    outcomes = by_line(parsed)
    assert [n for n, (o, _) in outcomes.items() if o == "accepted"] == [6, 7, 9]
    assert outcomes[5] == ("invalid", f"unknown carrier 'Owl': add it to the carrier mapping ({carriers.source})")
    assert outcomes[4] == ("invalid", "another line of this package is invalid: line 5")
    assert "disagrees with line 2" in outcomes[8][1]
    assert outcomes[2] == outcomes[3] == ("invalid", "another line of this package is invalid: line 8")
    assert outcomes[10] == ("invalid", "has 6 of 10 fields (the file may be truncated)")
    assert set(outcomes) == set(range(2, 11))
    package, cancellation = parsed.requests
    assert package.kind == SHIPMENT and package.line_numbers == [6, 7]
    assert [(i.order_item_id, i.sku, i.quantity) for i in package.items] == [("777", None, 1), (None, "ECHO", 2)]
    assert package.carrier.code == "USPS" and package.ship_date == datetime(2026, 11, 26, 15, tzinfo=UTC)
    assert cancellation.kind == CANCELLATION and cancellation.line_numbers == [9]


def test_an_unknown_file_type_and_a_csv_without_its_columns_are_refused_whole(carriers):
    assert by_line(parse_file("a.xlsx", b"x", carriers, NOW)) == {
        0: ("invalid", "unsupported file type 'a.xlsx': use .csv or .jsonl")}
    outcomes = by_line(parse_file("a.csv", b"order,qty\n1,2\n", carriers, NOW))
    assert set(outcomes) == {1, 2} and all("lacks ['amazon_order_id', 'type']" in r for _, r in outcomes.values())


def test_a_package_reference_id_is_a_stable_positive_number_per_order_and_tracking_number():
    first = package_reference_id(ORDER, "1Z1")
    assert first == package_reference_id(ORDER, " 1Z1 ") and first.isdigit() and int(first) > 0
    assert first != package_reference_id(ORDER, "1Z2") != package_reference_id(OTHER, "1Z1")
    assert len(first) <= 12
