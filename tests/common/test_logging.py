"""The log masker hides personal data in any field, nested or not, and in exception text."""

from __future__ import annotations

import io
import json

import structlog

from services.common.logging import configure_logging, mask_text, mask_value

PHONE = "13812345678"
ID_NUMBER = "11010519491231002X"


def _capture() -> tuple[io.StringIO, structlog.typing.FilteringBoundLogger]:
    stream = io.StringIO()
    configure_logging("debug", stream=stream, cache=False)
    return stream, structlog.get_logger("test")


def test_masker_hides_phone_and_id_number_in_any_field() -> None:
    stream, log = _capture()
    try:
        log.info(
            f"applicant {PHONE} called",
            phone=PHONE,
            note=f"id {ID_NUMBER}, mobile +86 {PHONE}",
            nested={"deep": [{"id_no": ID_NUMBER}, f"tel:{PHONE}"]},
            as_int=int(PHONE),
            name="张三",
            authorization="Bearer abc.def.ghi",
            amount_fen=150000,
        )
        try:
            raise ValueError(f"bad id {ID_NUMBER}")
        except ValueError:
            log.exception("failed")
    finally:
        configure_logging("warning", cache=False)
    text = stream.getvalue()
    assert PHONE not in text and ID_NUMBER not in text and "张三" not in text and "abc.def.ghi" not in text
    first = json.loads(text.splitlines()[0])
    assert first["phone"] == "138****5678"
    assert first["name"] == "***"
    assert first["amount_fen"] == 150000  # ordinary numbers pass through
    assert first["nested"]["deep"][1] == "tel:138****5678"
    assert "failed" in text.splitlines()[1]


def test_mask_text_leaves_ordinary_numbers_alone() -> None:
    assert mask_text("order 20261123 amount 1500") == "order 20261123 amount 1500"
    assert mask_text(f"x{PHONE}") == "x138****5678"
    assert ID_NUMBER not in mask_text(f"id={ID_NUMBER}")


def test_card_numbers_are_masked_and_traceback_frames_keep_function_names() -> None:
    assert "4111111111111111" not in mask_text("card 4111111111111111 declined")
    assert "4111111111111112" in mask_text("order 4111111111111112")  # not a card: fails the Luhn check
    frames = mask_value("frames", [{"filename": "a.py", "lineno": 3, "name": "redeem"}])
    assert frames == [{"filename": "a.py", "lineno": 3, "name": "redeem"}]
    assert mask_value("name", "张三") == "***"


def test_a_logged_exception_carries_no_local_variables_of_its_frames() -> None:
    # The frames' locals hold whatever the code had in hand — a request with a customer's name, a config
    # with partners' postback tokens — in shapes no masking pattern recognises.
    stream, log = _capture()
    try:

        def handle(request: dict[str, str]) -> None:
            token = "partner-secret-token-quickcash"
            raise RuntimeError(f"failed after {len(token)} characters of {len(request)} fields")

        try:
            handle({"applicant": "王小明", "note": "x"})
        except RuntimeError:
            log.exception("unhandled_error")
    finally:
        configure_logging("warning", cache=False)
    text = stream.getvalue()
    line = json.loads(text)
    assert "partner-secret-token-quickcash" not in text and "王小明" not in text and "\\u738b" not in text
    frames = line["exception"][0]["frames"]
    assert [f["name"] for f in frames][-1] == "handle" and all("locals" not in f for f in frames)
    assert line["exception"][0]["exc_value"] == "failed after 30 characters of 2 fields"


def test_generated_request_ids_are_never_masked_in_the_logs() -> None:
    """An INTERNAL answer quotes only the request id: the log line must carry the same text."""
    import itertools

    from services.common.edge import _RequestIds
    from services.common.logging import mask_text

    ids = _RequestIds()
    ids.prefix = ids.prefix[:12] + "bcdefghi"  # hex digits 1-8 written as letters, next to the counter
    ids.counter = itertools.count(10**9)  # counters whose hex has long runs of decimal digits
    generated = [ids.next() for _ in range(5000)]
    assert len(set(generated)) == 5000 and all(len(i) == 32 for i in generated)
    assert [mask_text(i) for i in generated] == generated
