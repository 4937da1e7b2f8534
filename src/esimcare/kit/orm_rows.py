"""ORM objects for rows that Core statements wrote.

A hot path writes with one prebuilt Core statement instead of the unit of work (which costs a
flush, its bookkeeping and often a statement more), but its callers still want the ORM object
they are used to. These two make that object tell the truth without another statement.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.session import make_transient_to_detached

T = TypeVar("T")


def adopt(session: Session, instance: T) -> T:
    """``instance``, built with every column of a row just INSERTed, made persistent in
    ``session`` as if it had been loaded: in the identity map, clean, its values current.

    A column left out would read as expired and load on first access, so pass them all."""
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


def written(instance: object, values: dict[str, Any]) -> None:
    """Set what an UPDATE just wrote on the loaded ``instance``, as its database state: the
    object shows the new values and the session has nothing more to flush for them."""
    for name, value in values.items():
        set_committed_value(instance, name, value)


def table_of(mapped: type[Any]) -> Table:
    """The Core table of a mapped class (typed as the Table it is, for Core INSERT/UPDATE)."""
    return cast(Table, mapped.__table__)
