"""Schema settings every source shares."""

from dlt.common.schema import Schema


def without_timestamp_detection(schema: Schema) -> None:
    """Turn off dlt's ISO-timestamp detection for fields no column hint types.

    With it, dlt types a text variant column (`extra__v_text`) as a timestamp when the first
    text there reads as one, then fails the whole load, on every later run too, at the first
    other text (dlt 1.31). Undocumented fields stay text, as Census's Arrow pages keep them;
    documented timestamps are typed by their column hints.
    """
    schema.remove_type_detection("iso_timestamp")
