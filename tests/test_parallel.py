"""parallel.unordered: every place runs every job once and hands back its result; a job's error
reaches the caller; the rule of where jobs run."""

import pytest

from gmmcli import parallel


def _square(x):
    return x * x


def _fail_on_three(x):
    if x == 3:
        raise ArithmeticError("three")
    return x


@pytest.mark.parametrize("place", ["process", "threads", "workers"])
def test_every_job_once(place):
    work = [(i,) for i in range(12)]
    assert sorted(parallel.unordered(_square, work, 2, place)) == [i * i for i in range(12)]


@pytest.mark.parametrize("place", ["process", "threads"])
def test_a_jobs_error_reaches_the_caller(place):
    with pytest.raises(ArithmeticError, match="three"):
        list(parallel.unordered(_fail_on_three, [(i,) for i in range(6)], 2, place))


def test_place_rule():
    assert parallel.place_for(10**6, 10, 1) == "process"
    assert parallel.place_for(100, 4, 2) == "workers"
    assert parallel.place_for(parallel.THREADS_MIN_WORK, 1, 2) == "threads"
    with pytest.raises(ValueError, match="unknown place"):
        list(parallel.unordered(_square, [(1,)], 1, "gpu"))
