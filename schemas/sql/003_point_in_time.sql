-- A resident as of a date: each attribute's value that was valid then (its latest change on or
-- before that day), with the department and record behind it. History is by valid time: when
-- the fact happened, not when the hub heard of it.
CREATE FUNCTION hub.resident_as_of(resident text, as_of date)
RETURNS TABLE (attribute text, value jsonb, valid_from text, source text, record_ref text)
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (h.attribute) h.attribute, h.value, h.valid_from, h.source, h.record_ref
      FROM hub.resident_history h
     WHERE h.resident_id = resident AND left(h.valid_from, 10) <= to_char(as_of, 'YYYY-MM-DD')
     ORDER BY h.attribute, h.valid_from DESC, h.record_ref DESC
$$;
