"""How the local farm names things: stable ids, the account and the region.

Shared by the farm's layers: :mod:`.model` and :mod:`.simulation` make ids with
:func:`stable_hex`, :mod:`.model` and :mod:`.server` put :data:`ACCOUNT` and :data:`REGION` in
ARNs, host names and the client's region. An id depends only on the seed and on what it names,
so one seed gives the same farm in every run and every process.
"""

from __future__ import annotations

import hashlib
from typing import Final

__all__ = ["ACCOUNT", "REGION", "principal_id", "stable_hex"]

#: The AWS account the farm pretends to be in (it appears in ARNs and error messages).
ACCOUNT: Final[str] = "123456789012"

#: The region of the farm, and of the clients :meth:`LocalFarm.client` makes.
REGION: Final[str] = "us-west-2"


def stable_hex(*parts: object) -> str:
    """Return 32 hex digits that depend only on ``parts``.

    Parameters
    ----------
    *parts
        What the id names, such as ``(seed, "job", name)``.

    Returns
    -------
    str
        32 lowercase hex digits, the same in every run and process.

    Examples
    --------
    >>> from deadline_nb.localfarm.ids import stable_hex
    >>> stable_hex(0, "farm") == stable_hex(0, "farm"), len(stable_hex(0, "farm"))
    (True, 32)
    """
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def principal_id(seed: int, user: str) -> str:
    """Return an IAM Identity Center user id, as the service puts in ``createdBy``.

    Parameters
    ----------
    seed
        The farm's seed.
    user
        The user's name.

    Returns
    -------
    str
        A UUID-like id, stable for the seed and the name.

    Examples
    --------
    >>> from deadline_nb.localfarm.ids import principal_id
    >>> [len(part) for part in principal_id(0, "maya").split("-")]
    [10, 8, 4, 4, 4, 12]
    """
    h = stable_hex(seed, "user", user)
    return (
        f"{h[:10]}-{h[10:18]}-{h[18:22]}-{h[22:26]}-{h[26:30]}-{stable_hex(seed, 'u2', user)[:12]}"
    )
