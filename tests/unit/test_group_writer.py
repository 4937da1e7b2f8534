"""Group commit: requests that arrive together share one write, each gets its own outcome."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from esimcare.es2plus.group_writer import GroupWriter
from tests.support import run_in_own_loop


class Doubler:
    """A write that doubles each number, refuses negative ones, and remembers its batches."""

    def __init__(self, fail_all: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail_all = fail_all

    def __call__(self, items: Sequence[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        if self.fail_all:
            raise RuntimeError("the database went away")
        return [ValueError(f"{n} is negative") if n < 0 else 2 * n for n in items]

    def numbers(self, items: Sequence[int]) -> list[int]:
        """As a write on the loop: no outcome is an error."""
        return [n for n in self(items) if isinstance(n, int)]


async def submit_all(writer: GroupWriter[int, int], items: list[int]) -> list[int | BaseException]:
    return await asyncio.gather(*(writer.submit(n) for n in items), return_exceptions=True)


def test_items_submitted_together_are_written_together_in_arrival_order() -> None:
    write = Doubler()
    outcomes = run_in_own_loop(submit_all(GroupWriter(write), list(range(10))))
    assert outcomes == [2 * n for n in range(10)]
    assert write.batches == [list(range(10))]


def test_a_batch_is_never_larger_than_the_limit() -> None:
    write = Doubler()
    run_in_own_loop(submit_all(GroupWriter(write, max_batch=4), list(range(10))))
    assert write.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_items_arriving_during_a_write_go_in_the_next_one() -> None:
    started, proceed = threading.Event(), threading.Event()
    doubler = Doubler()

    def write(items: Sequence[int]) -> list[int | Exception]:
        started.set()
        proceed.wait(5)
        return doubler(items)

    async def scenario() -> list[int | BaseException]:
        writer = GroupWriter(write)
        first = asyncio.ensure_future(writer.submit(1))
        while not started.is_set():  # the first write starts, alone
            await asyncio.sleep(0.001)
        later = asyncio.ensure_future(submit_all(writer, [2, 3, 4]))
        await asyncio.sleep(0.01)
        proceed.set()
        return [await first, *await later]

    assert run_in_own_loop(scenario()) == [2, 4, 6, 8]
    assert doubler.batches == [[1], [2, 3, 4]]


def test_each_request_gets_its_own_error() -> None:
    outcomes = run_in_own_loop(submit_all(GroupWriter(Doubler()), [1, -2, 3]))
    assert outcomes[0] == 2
    assert isinstance(outcomes[1], ValueError)
    assert outcomes[2] == 6


def test_a_failed_write_fails_every_request_in_it_and_the_writer_carries_on() -> None:
    write = Doubler(fail_all=True)
    writer: GroupWriter[int, int] = GroupWriter(write)
    outcomes = run_in_own_loop(submit_all(writer, [1, 2]))
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    write.fail_all = False
    assert run_in_own_loop(submit_all(writer, [5])) == [10]


def test_a_cancelled_request_does_not_stop_the_others() -> None:
    write = Doubler()

    async def scenario() -> int:
        writer = GroupWriter(write)
        gone = asyncio.ensure_future(writer.submit(1))
        staying = asyncio.ensure_future(writer.submit(2))
        await asyncio.sleep(0)
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        return await staying

    assert run_in_own_loop(scenario()) == 4
    assert write.batches == [[1, 2]]


def test_a_write_on_the_loop_is_tried_first_and_the_thread_pool_only_when_it_refuses() -> None:
    in_thread, on_loop = Doubler(), Doubler()
    loop_threads: list[bool] = []

    def write_now(items: Sequence[int]) -> list[int]:
        loop_threads.append(_on_a_running_loop())
        if 13 in items:
            raise RuntimeError("the write lock is busy")
        return [n * 2 for n in on_loop(items) if isinstance(n, int)]

    async def scenario() -> list[int | BaseException]:
        writer = GroupWriter(in_thread, write_now=write_now)
        first = await submit_all(writer, [1, 2])
        second = await submit_all(writer, [13, 14])
        return first + second

    assert run_in_own_loop(scenario()) == [4, 8, 26, 28]
    assert loop_threads == [True, True]
    assert on_loop.batches == [[1, 2]]
    assert in_thread.batches == [[13, 14]], "refused on the loop: written in the thread pool"


def _on_a_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_requests_a_few_turns_of_the_loop_behind_join_the_batch() -> None:
    """A write on the loop waits for the requests already under way (each needs a turn or two
    of the loop to reach ``submit``), so they share its transaction."""
    on_loop = Doubler()

    async def one_turn_late(writer: GroupWriter[int, int], n: int) -> int:
        await asyncio.sleep(0)
        return await writer.submit(n)

    async def scenario() -> list[int | BaseException]:
        writer = GroupWriter(Doubler(), write_now=on_loop.numbers)
        first = asyncio.ensure_future(writer.submit(1))
        later = [asyncio.ensure_future(one_turn_late(writer, n)) for n in (2, 3)]
        return [await first, *[await task for task in later]]

    assert run_in_own_loop(scenario()) == [2, 4, 6]
    assert on_loop.batches == [[1, 2, 3]]


def test_with_two_writes_at_once_a_batch_need_not_wait_for_the_one_before() -> None:
    first_started, second_started = threading.Event(), threading.Event()
    doubler = Doubler()

    def write(items: Sequence[int]) -> list[int | Exception]:
        if not first_started.is_set():
            first_started.set()
            # Finishes only once the next batch's write has begun beside it.
            assert second_started.wait(5), "the second batch waited for the first"
        else:
            second_started.set()
        return doubler(items)

    async def scenario() -> list[int | BaseException]:
        writer = GroupWriter(write, max_batch=2, writes_at_once=2)
        return await submit_all(writer, [1, 2, 3, 4, -5])

    outcomes = run_in_own_loop(scenario())
    assert outcomes[:4] == [2, 4, 6, 8]
    assert isinstance(outcomes[4], ValueError)
    assert sorted(map(sorted, doubler.batches)) == [[-5], [1, 2], [3, 4]]


def test_one_write_at_a_time_by_default() -> None:
    running, overlapped = [0], [False]
    lock = threading.Lock()

    def write(items: Sequence[int]) -> list[int | Exception]:
        with lock:
            running[0] += 1
            overlapped[0] = overlapped[0] or running[0] > 1
        threading.Event().wait(0.01)
        with lock:
            running[0] -= 1
        return [2 * n for n in items]

    outcomes = run_in_own_loop(submit_all(GroupWriter(write, max_batch=1), [1, 2, 3]))
    assert outcomes == [2, 4, 6]
    assert not overlapped[0]
