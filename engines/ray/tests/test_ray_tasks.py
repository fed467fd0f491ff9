"""``ordered_map``, the streaming behind ``RayEngine.split``: results in job order, jobs taken
only a bounded window ahead of the consumer (taking one reads a file), and an error of the jobs
themselves raised to the consumer after the results before it."""

from __future__ import annotations

import operator
import time
from collections.abc import Iterator

import pytest

from inhouse_ray.tasks import ordered_map


def test_results_come_in_job_order(ray_address: str) -> None:
    assert list(ordered_map(operator.neg, range(40), in_flight=8, num_cpus=0.5)) == [-i for i in range(40)]


def test_jobs_are_taken_a_bounded_window_ahead(ray_address: str) -> None:
    taken: list[int] = []

    def jobs() -> Iterator[int]:
        for i in range(30):
            taken.append(i)
            yield i

    results = ordered_map(operator.neg, jobs(), in_flight=4, num_cpus=0.5)
    assert next(results) == 0
    time.sleep(1.0)  # the submitting thread runs ahead as far as it may
    assert 1 < len(taken) <= 1 + 4 + 1  # the one taken, 4 waiting, 1 submitted and waiting for room
    assert list(results) == [-i for i in range(1, 30)]


def test_an_error_of_the_jobs_reaches_the_consumer_after_the_results_before_it(ray_address: str) -> None:
    def jobs() -> Iterator[int]:
        yield from range(3)
        raise OSError("the share went away")

    results = ordered_map(operator.neg, jobs(), in_flight=2, num_cpus=0.5)
    assert [next(results) for _ in range(3)] == [0, -1, -2]
    with pytest.raises(OSError, match="the share went away"):
        next(results)
