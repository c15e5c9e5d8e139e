from array import array
from typing import Any

TOP_FIELDS: tuple[str, ...]

def extract(
    items: list[Any],
) -> (
    tuple[
        list[list[Any]],
        list[array[int]],
        list[int],
        bytes,
        list[Any],
        list[Any],
        list[Any],
        dict[Any, tuple[array[int], bytearray, list[str]]],
    ]
    | None
): ...
