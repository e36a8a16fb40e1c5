"""Fit and select settings, validated once, at the edge, by their library names.

A bad value raises ``SettingError`` (a ValueError naming the setting); the command line turns
the name into its option (``n_init`` -> ``--n-init``) and exits 2. The grid's texts
(``-k 1-10``, ``-t VEV,VVV``, ``--init kmeans,random``) are parsed here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .engine import checks, covariance, em
from .errors import SettingError

DTYPES = ("float64", "float32")
SEED_LIMIT = 2**32
CRITERIA = ("bic", "aic", "icl", "cv")
MAX_RESTARTS = 10_000  # --n-init
MAX_ITERATIONS = 1_000_000  # --max-iter
MAX_COUNTS = 10_000  # component counts in one select grid (-k): each is a fit per covariance type
ALL_MODELS = tuple(m.name for m in covariance.MODELS)  # what "-t all" tries: the fourteen


@dataclass
class FitSettings:
    """The EM settings, named as scikit-learn names them; recorded in every model file."""

    n_components: int = 1
    covariance_type: str = "full"
    tol: float = 1e-3
    reg_covar: float = 1e-6
    max_iter: int = 100
    n_init: int = 1
    init: str = "kmeans"
    seed: int | None = None
    weights: str | None = None  # the --weights column, recorded for provenance
    dtype: str = "float64"

    def validate(self) -> FitSettings:
        """Check every value (SettingError) and put the model's name in its canonical form."""
        checks.check_settings(
            n_components=self.n_components, covariance_type=self.covariance_type, init=self.init
        )
        check_em(self.n_init, self.tol, self.reg_covar, self.max_iter)
        check_seed(self.seed)
        if self.dtype not in DTYPES:
            raise SettingError("dtype", f"unknown {{}} {self.dtype!r} (choose from {', '.join(DTYPES)})")
        self.covariance_type = covariance.get(self.covariance_type).name
        return self

    def engine_keywords(self) -> dict:
        """What an engine's ``fit`` takes besides the data and the number of components."""
        return dict(em_keywords(self), covariance_type=self.covariance_type, init=self.init)


def em_keywords(settings) -> dict:
    """The EM loop's settings of ``FitSettings`` or ``GridSettings``, as the engines name them."""
    return dict(
        tol=settings.tol,
        reg_covar=settings.reg_covar,
        max_iter=settings.max_iter,
        n_init=settings.n_init,
        seed=settings.seed,
    )


def check_em(n_init, tol, reg_covar, max_iter) -> None:
    """The EM loop's settings as the command line allows them (at least one iteration)."""
    checks.check_settings(n_init=n_init, tol=tol, reg_covar=reg_covar, max_iter=max_iter)
    if max_iter < 1:
        raise SettingError("max_iter", f"{{}} must be at least 1, got {max_iter}")
    for name, value, most in (("n_init", n_init, MAX_RESTARTS), ("max_iter", max_iter, MAX_ITERATIONS)):
        if value > most:  # --n-init 10**9 would run for years: a mistake, said before any work
            raise SettingError(name, f"{{}} must be at most {most:,}, got {value:,}")


def check_seed(seed) -> None:
    if seed is not None and not 0 <= seed < SEED_LIMIT:
        raise SettingError("seed", f"{{}} must be between 0 and {SEED_LIMIT - 1}, got {seed}")


def check_jobs(jobs) -> None:
    if jobs is not None and jobs < 1:
        raise SettingError("jobs", f"{{}} must be at least 1, got {jobs}")


def parse_ks(text: str) -> list[int]:
    """Component counts from ``"1-10"``, ``"1-200:10"`` (step), ``"2,4,8"`` or a mix of them.

    Ranges include both ends when the step lands on the end: ``1-200:10`` is 1, 11, ..., 191,
    as ``np.arange(1, 200, 10)`` in the notebook. The result is sorted and without repeats.
    """
    ks: set[int] = set()
    items = [item.strip() for item in str(text).split(",")]
    if not any(items):
        raise SettingError("n_components", "{} needs component counts, e.g. 1-10, 1-200:10 or 2,4,8")
    for item in items:
        if not item:
            continue
        try:
            if "-" in item:
                span, _, step_text = item.partition(":")
                lo_text, _, hi_text = span.partition("-")
                lo, hi = int(lo_text), int(hi_text)
                step = int(step_text) if step_text else 1
                if step < 1:
                    raise SettingError("n_components", f"{{}} {item!r}: the step must be at least 1")
                if hi < lo:
                    raise SettingError("n_components", f"{{}} {item!r}: the range ends before it starts")
                counts = range(lo, hi + 1, step)
                _check_grid_size(len(ks) + len(counts))  # before a set of 10**8 ints is built
                ks.update(counts)
            else:
                if ":" in item:
                    raise ValueError(item)
                ks.add(int(item))
                _check_grid_size(len(ks))
        except SettingError:
            raise
        except ValueError:
            raise SettingError(
                "n_components", f"{{}} {item!r} is not a count or range (e.g. 1-10, 1-200:10, 2,4,8)"
            ) from None
    return checked_ks(ks)


def checked_ks(ks) -> list[int]:
    """Component counts as a grid takes them: sorted, no repeats, each at least 1, not too many."""
    ks = {int(k) for k in ks}
    if not ks:
        raise SettingError("n_components", "{} needs component counts, e.g. 1-10, 1-200:10 or 2,4,8")
    _check_grid_size(len(ks))
    if min(ks) < 1:
        raise SettingError("n_components", f"{{}} counts must be at least 1, got {min(ks)}")
    return sorted(ks)


def _check_grid_size(n_counts: int) -> None:
    if n_counts > MAX_COUNTS:
        raise SettingError(
            "n_components",
            f"{{}} asks for {n_counts:,} or more component counts; a grid takes at most {MAX_COUNTS:,}",
        )


def parse_covariance_types(text: str | Sequence[str]) -> list[str]:
    """``"all"`` (the fourteen models), ``"VEV,full"`` or a list -> canonical names, no repeats."""
    names = [t.strip() for t in (text.split(",") if isinstance(text, str) else text)]
    names = [t for t in names if t]
    if not names or [t.lower() for t in names] == ["all"]:
        return list(ALL_MODELS)
    return list(dict.fromkeys(covariance.get(t).name for t in names))


def parse_inits(init: str | Sequence[str]) -> list[str]:
    """``"kmeans,random_from_data"`` or a list -> initialisation methods, no repeats."""
    names = [m.strip() for m in (init.split(",") if isinstance(init, str) else init)]
    names = [m for m in names if m]
    if not names:
        raise SettingError("init", f"{{}} needs a method (choose from {', '.join(em.INIT_METHODS)})")
    for m in names:
        checks.check_settings(init=m)
    return list(dict.fromkeys(names))


def check_criterion(criterion: str) -> str:
    criterion = str(criterion).lower()
    if criterion not in CRITERIA:
        raise SettingError("criterion", f"unknown {{}} {criterion!r} (choose from {', '.join(CRITERIA)})")
    return criterion


def check_cv(cv: int | None, n_rows: int | None = None, criterion: str | None = None) -> None:
    """Folds of cross-validation: at least 2, at most the rows; the cv criterion needs them."""
    if cv is None:
        if criterion == "cv":
            raise SettingError("criterion", "{} cv needs --cv K (e.g. --cv 5)")
        return
    if cv < 2:
        raise SettingError("cv", f"{{}} needs at least 2 folds, got {cv}")
    if n_rows is not None and cv > n_rows:
        raise SettingError("cv", f"{{}} {cv} needs at least {cv} rows, the data has {n_rows}")


@dataclass(frozen=True)
class GridSettings:
    """A select grid as asked for: the counts, models and starts, the criterion, the EM settings.

    ``parse`` takes the command line's values (the grid's texts among them) and validates them all
    at once, before any data is read; the grid then hands them on: to the sweep
    (``sweep_keywords``), to the saved winner (``winner_settings``, ``record``)."""

    ks: tuple[int, ...]
    types: tuple[str, ...]
    inits: tuple[str, ...]
    criterion: str
    cv: int | None
    n_init: int
    tol: float
    reg_covar: float
    max_iter: int
    seed: int | None
    jobs: int | None

    @classmethod
    def parse(
        cls, *, ks, covariance_types, init, criterion, cv, n_init, tol, reg_covar, max_iter, seed, jobs
    ) -> GridSettings:
        parsed_ks, types, inits = parse_ks(ks), parse_covariance_types(covariance_types), parse_inits(init)
        criterion = check_criterion(criterion)
        check_cv(cv, criterion=criterion)
        check_em(n_init, tol, reg_covar, max_iter)
        check_seed(seed)
        check_jobs(jobs)
        return cls(
            tuple(parsed_ks),
            tuple(types),
            tuple(inits),
            criterion,
            cv,
            n_init,
            tol,
            reg_covar,
            max_iter,
            seed,
            jobs,
        )

    def sweep_keywords(self) -> dict:
        """What ``selection.sweep`` takes besides the data, the counts and the models."""
        return dict(em_keywords(self), init=list(self.inits), cv=self.cv, jobs=self.jobs)

    def winner_settings(self, winner, weights: str | None) -> FitSettings:
        """The settings that reproduce the winning cell under 'gmmcli fit'."""
        return FitSettings(
            winner.k,
            winner.covariance_type,
            self.tol,
            self.reg_covar,
            self.max_iter,
            self.n_init,
            winner.init,
            winner.seed,
            weights,
        )

    def record(self, winner) -> dict:
        """How the winner was chosen, as the model file records it."""
        return {
            "criterion": self.criterion,
            "value": float(winner.value(self.criterion)),
            "n_components_tried": [int(k) for k in self.ks],
            "covariance_types_tried": list(self.types),
            "cv_folds": int(self.cv) if self.cv else None,
        }


__all__ = [
    "CRITERIA",
    "DTYPES",
    "FitSettings",
    "GridSettings",
    "check_criterion",
    "check_cv",
    "check_em",
    "check_jobs",
    "check_seed",
    "parse_covariance_types",
    "parse_inits",
    "parse_ks",
]
