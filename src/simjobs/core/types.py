"""Value types shared by every layer: inputs, levels, job ids, jobs and statuses.

These follow the types of ``exauq.sim_management`` so that code written against exauq
runs unchanged; comments mark the few places where simjobs is stricter or friendlier.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from enum import Enum
from numbers import Integral, Real
from typing import Any, Generic, Optional, TypeVar, Union

FilePath = Union[str, bytes, os.PathLike]
T = TypeVar("T")
S = TypeVar("S")


def _shown(value: Any) -> str:
    """A coordinate as an error message shows it: its repr, cut to ~60 characters."""
    try:
        text = repr(value)
    except ValueError:  # an int too long for repr (sys.set_int_max_str_digits)
        text = f"an int of {value.bit_length()} bits"
    return text if len(text) <= 60 else text[:45] + "..." + text[-12:]


def _validate_coordinate(value: Any, position: int = 1) -> Real:
    """Check one coordinate and return it as the log stores it.

    An ``int`` or ``float`` is kept as it is (exauq writes ints as ints); every other
    real (Fraction, Decimal, numpy scalars...) becomes the float it equals, so that
    both stores write its float repr and any reader (exauq's too) can read it back.
    """
    if value is None:
        raise ValueError("Input coordinates must be real numbers, but received None.")
    # Decimal is no numbers.Real (it will not mix with floats), but it is a real number.
    if not isinstance(value, (Real, Decimal)) or isinstance(value, bool):
        raise TypeError(
            f"Input coordinates must be real numbers, but received {_shown(value)} "
            f"of type {type(value).__name__}."
        )
    cls = value.__class__
    try:
        number = float(value)
    except OverflowError:
        number = math.inf if value > 0 else -math.inf
    except ValueError:  # e.g. Decimal('sNaN'), which float() refuses
        number = math.nan
    if math.isinf(number) and not _is_infinite(value):
        raise ValueError(
            f"Input coordinate {position} is {_shown(value)}, too large for a float "
            f"(at most about 1.8e308 in size); rescale it"
        )
    if not math.isfinite(number):
        raise ValueError(
            f"Input coordinates must be finite, but received {_shown(value)}"
            f" (coordinate {position})."
        )
    if cls is int or cls is float:
        return value
    if isinstance(value, Integral):
        return int(value)
    return number


def _is_infinite(value: Any) -> bool:
    """True when ``value`` is itself infinite, not a finite number too large for a
    float (an int, a Fraction, a numpy longdouble, a Decimal)."""
    if isinstance(value, Decimal):
        return value.is_infinite()
    with warnings.catch_warnings():  # numpy warns about inf - inf
        warnings.simplefilter("ignore")
        return bool(value - value != 0)  # NaN only for an infinity


class Input(Sequence):
    """An immutable point in R^d, given by its coordinates.

    Parameters
    ----------
    *args : numbers.Real
        The coordinates; each must be a finite real number.

    Raises
    ------
    TypeError
        If a coordinate is not a real number.
    ValueError
        If a coordinate is None, NaN or infinite.

    Examples
    --------
    >>> x = Input(0.5, 1.0)
    >>> len(x), x[0], x.value
    (2, 0.5, (0.5, 1.0))
    """

    __slots__ = ("_coords",)

    def __init__(self, *args: Real):
        self._coords = tuple(_validate_coordinate(a, i) for i, a in enumerate(args, 1))

    @classmethod
    def from_trusted(cls, coords: tuple) -> "Input":
        """(simjobs) An Input on ``coords`` as they are, not checked: for coordinates
        already known to be a tuple of finite floats (a log's records, a form's checked
        fields), where checking each again would cost more than the rest of the read.

        Parameters
        ----------
        coords : tuple[float, ...]
            Finite floats; the caller vouches for them.
        """
        obj = cls.__new__(cls)
        obj._coords = coords
        return obj

    @classmethod
    def from_array(cls, input: Any) -> "Input":
        """Create an Input from a 1-dimensional array-like (e.g. a numpy array).

        Raises
        ------
        TypeError
            If the argument is not array-like.
        ValueError
            If it is not 1-dimensional or holds non-finite values.
        """
        import numpy as np

        if not isinstance(input, (np.ndarray, Sequence)) or isinstance(input, str):
            raise TypeError(
                f"Expected a 1-dimensional array, but received {type(input).__name__}."
            )
        arr = np.asarray(input)
        if arr.ndim != 1:
            raise ValueError(f"Expected a 1-dimensional array, but got {arr.ndim} dimensions.")
        return cls(*(v.item() if hasattr(v, "item") else v for v in arr))

    @classmethod
    def sequence_from_array(cls, inputs: Any) -> tuple["Input", ...]:
        """Create a tuple of Inputs from the rows of a 2-dimensional array-like."""
        import numpy as np

        arr = np.asarray(inputs)
        if arr.ndim != 2:
            raise ValueError(f"Expected a 2-dimensional array, but got {arr.ndim} dimensions.")
        return tuple(cls.from_array(row) for row in arr)

    @property
    def value(self) -> Union[tuple[Real, ...], Real, None]:
        """The coordinates as a tuple (d > 1), the single number (d = 1) or None (d = 0)."""
        if not self._coords:
            return None
        if len(self._coords) == 1:
            return self._coords[0]
        return self._coords

    @property
    def coordinates(self) -> tuple[float, ...]:
        """(simjobs) The coordinates as a tuple, whatever the dimension: the input's own
        (immutable) tuple, so a record of this input shares it rather than copying it."""
        return self._coords

    def __len__(self) -> int:
        return len(self._coords)

    def __getitem__(self, item):
        if isinstance(item, slice):
            return Input(*self._coords[item])
        try:
            return self._coords[item]
        except TypeError:
            raise TypeError(
                f"Subscript must be an 'int' or slice, but received {type(item).__name__}."
            ) from None
        except IndexError:
            raise IndexError(f"Input index {item} out of range.") from None

    def __iter__(self) -> Iterator[Real]:
        return iter(self._coords)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Input) and self._coords == other._coords

    def __hash__(self) -> int:
        return hash(self._coords)

    def __repr__(self) -> str:
        return f"Input({', '.join(repr(c) for c in self._coords)})"

    def __str__(self) -> str:
        return str(self._coords)


@dataclasses.dataclass(frozen=True)
class TrainingDatum:
    """A simulator input together with its (finite, real) simulator output.

    Raises
    ------
    TypeError
        If ``input`` is not an Input or ``output`` is not a real number.
    ValueError
        If ``output`` is NaN or infinite.
    """

    input: Input
    output: Real

    def __post_init__(self):
        if not isinstance(self.input, Input):
            raise TypeError(
                f"Argument 'input' must be of type Input, but received {type(self.input).__name__}."
            )
        if not isinstance(self.output, Real) or isinstance(self.output, bool):
            raise TypeError(
                f"Argument 'output' must define a real number, but received {self.output!r}."
            )
        if not math.isfinite(self.output):
            raise ValueError(
                f"Argument 'output' must be a finite real number, but received {self.output}."
            )


class MultiLevel(dict, Generic[T]):
    """A dict of objects keyed by integer levels.

    Parameters
    ----------
    elements : Mapping[int, T] or Sequence[T]
        A mapping from levels to objects, or a sequence whose items become levels
        1, 2, ... in order.

    Raises
    ------
    TypeError
        If a level is not an int.
    """

    def __init__(self, elements: Union[Mapping[int, T], Sequence[T]]):
        if isinstance(elements, Mapping):
            items = dict(elements)
        elif isinstance(elements, Sequence) and not isinstance(elements, str):
            items = {level: value for level, value in enumerate(elements, start=1)}
        else:
            raise TypeError(
                "Argument 'elements' must be a mapping with int keys or a sequence, "
                f"but received object of type {type(elements).__name__}."
            )
        for level in items:
            if not isinstance(level, int) or isinstance(level, bool):
                raise TypeError(f"Levels must be integers, but found key {level!r}.")
        super().__init__(items)

    @property
    def levels(self) -> tuple[int, ...]:
        """The levels, in increasing order."""
        return tuple(sorted(self.keys()))

    def map(self, f: Callable[[int, T], S]) -> "MultiLevel[S]":
        """Apply ``f(level, value)`` to every item, giving a new MultiLevel."""
        return MultiLevel({level: f(level, value) for level, value in self.items()})

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, MultiLevel) and dict.__eq__(self, other)

    def __ne__(self, other: Any) -> bool:
        return not self == other

    __hash__ = None  # a mutable mapping

    def __repr__(self) -> str:
        return f"MultiLevel({dict.__repr__(self)})"


class JobId:
    """The id of a job: a non-empty string of digits.

    Parameters
    ----------
    job_id : str, int or JobId
        The id; ``str(job_id)`` must consist of digits only.

    Raises
    ------
    ValueError
        If the id is not made only of digits.
    """

    __slots__ = ("_id",)

    def __init__(self, job_id: Union[str, int, "JobId"]):
        text = job_id._id if isinstance(job_id, JobId) else str(job_id)
        if isinstance(job_id, bool) or not (text.isascii() and text.isdigit()):
            # exauq's wording, which code and tests written for exauq match
            raise ValueError(
                "Expected 'job_id' to define a string consisting only of digits, but "
                f"received '{job_id}' instead."
            )
        self._id = text

    def __str__(self) -> str:
        return self._id

    def __repr__(self) -> str:
        return f"JobId('{self._id}')"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, JobId) and self._id == other._id

    def __lt__(self, other: "JobId") -> bool:
        return (len(self._id), self._id) < (len(other._id), other._id)

    def __hash__(self) -> int:
        return hash(self._id)


class JobStatus(Enum):
    """The states of a job; the values are the strings stored in the simulations log."""

    COMPLETED = "Completed"
    FAILED = "Failed"
    RUNNING = "Running"
    SUBMITTED = "Submitted"
    PENDING_SUBMIT = "Pending submit"
    FAILED_SUBMIT = "Failed submit"
    CANCELLED = "Cancelled"
    PENDING_CANCEL = "Pending cancel"
    FAILED_CANCEL = "Failed cancel"


TERMINAL_STATUSES = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.FAILED_SUBMIT, JobStatus.CANCELLED}
)
PENDING_STATUSES = frozenset({JobStatus.PENDING_CANCEL, JobStatus.PENDING_SUBMIT})
# Statuses a user may resubmit from (a new job at the same level).
RESUBMITTABLE_STATUSES = frozenset(
    {JobStatus.FAILED, JobStatus.FAILED_SUBMIT, JobStatus.CANCELLED}
)


class Job:
    """A simulator input to be evaluated as a job at a level, on a named interface.

    Parameters
    ----------
    id_ : JobId, str or int
        The job's id.
    data : Input
        The simulator input.
    level : int, optional
        The level of the job, by default 1.
    interface_name : str, optional
        The hardware interface running the job, by default None.

    Raises
    ------
    ValueError
        If ``id_`` is not a valid job id.
    TypeError
        If ``data`` is not an Input or ``level`` is not an int.
    """

    __slots__ = ("_id", "_data", "_level", "_interface_name")

    def __init__(
        self,
        id_: Union[JobId, str, int],
        data: Input,
        level: int = 1,
        interface_name: Optional[str] = None,
    ):
        # Both texts are exauq's, which code and tests written for exauq match.
        try:
            self._id = JobId(id_)
        except ValueError:
            raise ValueError(
                f"Expected 'id_' to define a valid {JobId}, but received '{id_}' instead."
            ) from None
        if not isinstance(data, Input):
            raise TypeError(
                f"Expected 'data' to be of type {Input} but received {type(data)} instead."
            )
        if not isinstance(level, int) or isinstance(level, bool):
            raise TypeError(
                f"Argument 'level' must be an int, but received {type(level).__name__}."
            )
        self._data = data
        self._level = level
        self._interface_name = interface_name

    @property
    def id(self) -> JobId:
        """(Read-only) The job's id."""
        return self._id

    @property
    def data(self) -> Input:
        """(Read-only) The simulator input."""
        return self._data

    @property
    def level(self) -> int:
        """(Read-only) The level of the job."""
        return self._level

    @property
    def interface_name(self) -> Optional[str]:
        """(Read-only) The name of the interface running the job."""
        return self._interface_name

    # As in exauq: equal exactly when the ids and the input data are equal (level and
    # interface are where the job runs, not what it is).
    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Job) and self._id == other._id and self._data == other._data

    def __hash__(self) -> int:
        return hash(self._id)

    def __repr__(self) -> str:
        return (
            f"Job(id_={self._id!r}, data={self._data!r}, level={self._level}, "
            f"interface_name={self._interface_name!r})"
        )


Simulation = tuple[Input, Optional[Real]]
"""A simulator input, with its output when one is known."""
