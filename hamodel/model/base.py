"""Shared building blocks of the model: safe names, references, reliability."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from hamodel.errors import from_validation_error

# Names reach keepalived.conf, haproxy.cfg, file names and graphviz ids, so
# they are restricted to what every one of those grammars accepts unquoted.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def _check_name(value: str) -> str:
    if not NAME_RE.fullmatch(value):
        raise ValueError(
            f"invalid name {value!r}: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def _to_name(value: Any) -> Any:
    """Accept a model object where a reference to it is expected."""
    if isinstance(value, HaBase) and (name := getattr(value, "name", None)) is not None:
        return name  # a named object (HaBase itself declares no name)
    return value


Name = Annotated[str, AfterValidator(_check_name)]
Ref = Annotated[str, BeforeValidator(_to_name), AfterValidator(_check_name)]


def _sorted_unique(value: Any) -> Any:
    if isinstance(value, (set, frozenset, list, tuple)):
        return sorted({_to_name(v) for v in value})
    if isinstance(value, str):
        return [value]
    return value


RefSet = Annotated[list[Ref], BeforeValidator(_sorted_unique)]
NameSet = Annotated[list[Name], BeforeValidator(_sorted_unique)]


def _listify(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, (str, int, HaBase)):
        return [value]
    return list(value)


RefList = Annotated[list[Ref], BeforeValidator(lambda v: [_to_name(x) for x in _listify(v)])]


if TYPE_CHECKING:
    # What constructors accept, as an editor sees it (the signatures under
    # ``if TYPE_CHECKING`` in each class; validators convert at run time): a
    # reference may be the object itself, a list any iterable, a nested
    # object a mapping of its fields.
    from collections.abc import Iterable
    from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
    from typing import TypeAlias

    RefIn: TypeAlias = "str | HaBase"
    RefsIn: TypeAlias = "str | HaBase | Iterable[str | HaBase]"
    NamesIn: TypeAlias = "str | Iterable[str]"
    AddressIn: TypeAlias = "str | IPv4Address | IPv6Address"
    SubnetIn: TypeAlias = "str | IPv4Network | IPv6Network"
    Data: TypeAlias = "Mapping[str, Any]"


_MODEL_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_HAMODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _caller_location() -> tuple[str, int] | None:
    """Where the model file constructed the object being initialised.

    The first frame outside hamodel and pydantic must be outside the hamodel
    package (objects hamodel builds itself have no source). From there the
    outermost consecutive frame in the same file is taken, so that an object
    made by a helper function in the model (``api("keystone", ...)``) points
    at the line that calls the helper, not at the helper's body.
    """
    frame = sys._getframe(2)
    while frame is not None and (
        frame.f_code.co_filename.startswith(_MODEL_DIR) or f"{os.sep}pydantic" in frame.f_code.co_filename
    ):
        frame = frame.f_back  # subclass __init__, replace(), validators
    if frame is None:
        return None
    path = frame.f_code.co_filename
    if path.startswith(_HAMODEL_DIR) or path.startswith("<"):
        return None
    line = frame.f_lineno
    outer = frame.f_back
    while outer is not None and outer.f_code.co_filename == path:
        line = outer.f_lineno
        outer = outer.f_back
    return path, line


class HaBase(BaseModel):
    """Base of every model type: immutable, strict about unknown fields.

    Subclasses may name a ``_positional`` field so that architects can write
    ``Network("mgmt", subnet=...)`` instead of ``Network(name="mgmt", ...)``.
    Validation errors are re-raised as :class:`~hamodel.errors.ModelError`
    naming the object (``Node[ctl-1].capacity.cpu: ...``).
    """

    # allow_inf_nan=False: an infinite CPU request or a NaN availability has
    # no meaning and crashed the placement solver (issue 17).
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False)
    _positional: ClassVar[tuple[str, ...]] = ()
    _source: tuple[str, int] | None = PrivateAttr(default=None)

    def __init__(self, *args: Any, **data: Any):
        if len(args) > len(self._positional):
            raise TypeError(f"{type(self).__name__} takes at most {len(self._positional)} positional argument(s)")
        for field, value in zip(self._positional, args):
            if field in data:
                raise TypeError(f"{type(self).__name__}: {field} given twice")
            data[field] = value
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise from_validation_error(exc, data, prefix=self._error_label(data)) from None
        self._source = _caller_location()

    @property
    def source(self) -> tuple[str, int] | None:
        """(file, line) where this object was written in a model file, or
        None (built by hamodel itself, or read from JSON). Not a field:
        equality and the JSON export ignore it."""
        return self._source

    @classmethod
    def _error_label(cls, data: dict) -> str | None:
        name = data.get("name")
        return f"{cls.__name__}[{name}]" if isinstance(name, str) else cls.__name__

    def __eq__(self, other: object) -> bool:
        # Compare fields only: private helpers and lookup caches are not data.
        if type(other) is not type(self):
            return NotImplemented
        return self.model_dump() == other.model_dump()  # type: ignore[union-attr]

    # -- deriving variants ----------------------------------------------------

    def replace(self, **changes: Any) -> Self:
        """A validated variant of this object: ``changes`` replace fields.

        The other fields keep the values this object was given; defaults and
        derived values (a service's ``process``) are computed afresh. The
        result is validated like a newly written object, so a bad change
        raises :class:`~hamodel.errors.ModelError` naming the object and
        field, and it has its own lookup caches::

            galera.replace(replicas=5)
            galera.strategy.replace(manager="pacemaker")
        """
        data = {k: getattr(self, k) for k in self.model_fields_set if k not in changes}
        new = type(self)(**data, **changes)
        new._adopt(self)
        return new

    def _adopt(self, old: Self) -> None:
        """Take over private state of ``old`` that fields do not carry.

        Failure domains given as objects (``domains=[Rack("r1")]``) are kept
        beside the names so that an Architecture declares them; a variant
        keeps those it still refers to.
        """
        mine = getattr(self, "_domain_objects", None)
        if mine is None:
            return
        refs, have = self._domain_refs(), {d.name for d in mine}
        mine.extend(d for d in getattr(old, "_domain_objects", []) if d.name in refs and d.name not in have)

    def _domain_refs(self) -> set[str]:
        return set()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Pydantic's copy, without validation: prefer :meth:`replace`.

        ``update`` values are taken as they are (a model that breaks its own
        rules can be built this way, which some tests do on purpose). Lookup
        caches are dropped, so the copy answers from its own fields.
        """
        copy = super().model_copy(update=update, deep=deep)
        for key in [k for k in copy.__dict__ if k not in type(copy).model_fields]:
            del vars(copy)[key]
        return copy


class Reliability(HaBase):
    """Failure figures of a component, for availability estimates.

    Give either ``mtbf_hours`` and ``mttr_hours`` or ``availability``.
    """

    # Bounded so that sums and products stay finite (1e9 h: 114,000 years).
    mtbf_hours: float | None = Field(default=None, gt=0, le=1e9)
    mttr_hours: float | None = Field(default=None, gt=0, le=1e9)
    availability: float | None = Field(default=None, gt=0, lt=1)

    @model_validator(mode="after")
    def _one_form(self) -> Reliability:
        pair = (self.mtbf_hours is not None, self.mttr_hours is not None)
        if self.availability is not None and any(pair):
            raise ValueError("give either availability or mtbf_hours/mttr_hours, not both")
        if self.availability is None and pair != (True, True):
            raise ValueError("give availability, or both mtbf_hours and mttr_hours")
        return self

    @property
    def steady_state(self) -> float:
        """Steady-state availability ``MTBF / (MTBF + MTTR)``."""
        if self.availability is not None:
            return self.availability
        assert self.mtbf_hours is not None and self.mttr_hours is not None
        return self.mtbf_hours / (self.mtbf_hours + self.mttr_hours)


class Resources(HaBase):
    """CPU cores and memory, as a node's capacity or a service's request."""

    # Bounded so that the placement solver's scaled integers stay finite
    # (1.7e308 cores crashed it with an OverflowError).
    cpu: float = Field(default=0, ge=0, le=1e6)
    memory_gb: float = Field(default=0, ge=0, le=1e9)


# Config-file paths (certificates, notify scripts): absolute, no whitespace,
# quotes or characters a config grammar would interpret.
PATH_RE = re.compile(r"^/[A-Za-z0-9_./+-]*$")


def _check_path(value: str) -> str:
    if not PATH_RE.fullmatch(value) or "/../" in value + "/":
        raise ValueError(f"invalid path {value!r}: absolute, letters, digits and _ . / + - only (no spaces)")
    return value


SafePath = Annotated[str, AfterValidator(_check_path)]


class SecretRef(HaBase):
    """Where a secret comes from: an environment variable or a file.

    The secret itself never enters the model, the manifest or the docs.
    """

    env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None
    file: SafePath | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self
