"""The leak scanner finds a planted valid ID number, and the hub's mask hides it."""

from __future__ import annotations

from connectors.fields import FieldError, mask_id_numbers
from connectors.records import MappingError
from tests.id_leaks import id_numbers_in

VALID = "511802195603121339"  # check character computed by stdnum
OTHER = "51180219560312138x"


def test_the_planted_numbers_are_valid() -> None:
    from stdnum.cn import ric

    assert ric.calc_check_digit(VALID) == VALID[-1]  # it reads the first 17 characters
    assert ric.calc_check_digit(OTHER) == OTHER[-1].upper()


def test_the_scanner_finds_valid_numbers_anywhere_in_text() -> None:
    text = f"bad id_number {VALID}, spouse={OTHER}; label=\"{VALID}\""
    assert id_numbers_in(text) == [VALID, OTHER, VALID]


def test_the_scanner_ignores_what_is_not_a_valid_number() -> None:
    typo = VALID[:-1] + str((int(VALID[-1]) + 1) % 10)
    assert id_numbers_in(f"{typo} {VALID}1 9{VALID} 511802199913451234") == []


def test_masked_numbers_are_not_found() -> None:
    masked = mask_id_numbers(f"bad id_number {VALID} and {OTHER}")
    assert masked == "bad id_number 511802********1339 and 511802********138x"
    assert id_numbers_in(masked) == []


def test_field_and_mapping_errors_never_carry_a_valid_number() -> None:
    assert id_numbers_in(str(FieldError(f"impossible date {VALID!r}"))) == []
    broken = f"业务内容: broken JSON {{'配偶身份证号': '{VALID}'"
    assert id_numbers_in(str(MappingError(broken))) == []
