"""Records about one person share a partition key; no ID number appears in a key."""

from connectors.publisher import partition_key


def _event(source: str, record: str, id_number: str | None, person_key: str | None) -> dict:
    return {"source": source, "subject": record, "data": {"parsed": {
        "id_number": {"original": id_number, "normalized": id_number} if id_number else None,
        "person_key": person_key}}}


def test_a_valid_id_number_keys_across_departments() -> None:
    a = _event("/departments/police", "GA1", "511825195612111903", "R1")
    b = _event("/departments/civil_affairs", "MZ9", "511825195612111903", None)
    assert partition_key(a) == partition_key(b)
    assert b"511825195612111903" not in partition_key(a)


def test_without_a_number_the_department_person_key_then_the_record() -> None:
    a = _event("/departments/police", "GA1", None, "R1")
    b = _event("/departments/police", "GA2", None, "R1")
    c = _event("/departments/police", "GA3", None, None)
    d = _event("/departments/police", "GA4", None, None)
    assert partition_key(a) == partition_key(b)
    assert partition_key(c) != partition_key(d)
