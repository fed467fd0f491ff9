"""What a failure on Ray becomes here: the error the work itself raised (a provider's
``ProviderError`` from an embedder actor, exactly as in one process), else an ``InhouseError``
that says what failed on the cluster and where to look."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ray.exceptions import RayError, RayTaskError

from inhouse.errors import InhouseError


@contextmanager
def unwrap(what: str) -> Iterator[None]:
    """Around ``ray.get`` of ``what``: re-raise an inhouse error the remote code raised as
    itself, and any other failure of Ray (a worker or actor that died, a lost object) as an
    ``InhouseError`` naming ``what``."""
    try:
        yield
    except RayTaskError as exc:
        if isinstance(exc.cause, InhouseError):
            raise exc.cause from None
        raise InhouseError(f"{what} failed on Ray: {exc}") from exc
    except RayError as exc:
        raise InhouseError(f"{what} failed on Ray: {type(exc).__name__}: {exc}; see `ray status` and the cluster's logs") from exc
