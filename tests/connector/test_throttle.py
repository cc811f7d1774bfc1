"""A 429 pauses every worker of a client, not only the refused request (connector/retry.Throttle)."""

from __future__ import annotations

import random
import threading

import requests
import responses
from client_fakes import TABLE, TABLE_URL, FakeClock, add_token, make_client

from connector.retry import RetryPolicy, Throttle, send

URL = "https://api.example.org/feed/items"
COUNT_URL = TABLE_URL + "/count"


def _policy(clock: FakeClock, **kw: float) -> RetryPolicy:
    return RetryPolicy(sleep=clock.sleep, clock=clock, wallclock=lambda: 1.7e9,
                       rng=random.Random(7), **kw)


@responses.activate
def test_a_request_waits_out_a_pause_another_worker_was_asked_for() -> None:
    responses.add(responses.GET, URL, json={"ok": True})
    clock = FakeClock()
    throttle = Throttle(_policy(clock))
    throttle.hold(5)  # another worker just got "429, Retry-After: 5"

    send(requests.Session(), "GET", URL, _policy(clock), throttle=throttle)

    assert clock.waits == [5.0]


@responses.activate
def test_a_429_holds_the_shared_throttle_for_its_retry_after() -> None:
    responses.add(responses.GET, URL, status=429, headers={"Retry-After": "7"})
    responses.add(responses.GET, URL, json={"ok": True})
    clock = FakeClock()
    throttle = Throttle(_policy(clock))
    started = clock.now
    send(requests.Session(), "GET", URL, _policy(clock), throttle=throttle)

    clock.now = started + 2  # another worker, two seconds after the 429
    throttle.wait()

    assert clock.waits == [7.0, 5.0]  # the refused request's own wait, then the other's rest


def test_a_pause_is_capped_at_the_policys_longest_wait() -> None:
    clock = FakeClock()
    throttle = Throttle(_policy(clock, max_delay=30.0))
    throttle.hold(3600)
    throttle.wait()
    throttle.wait()
    assert clock.waits == [30.0]


def test_the_clients_workers_share_one_throttle() -> None:
    clock = FakeClock()
    with responses.RequestsMock() as rsps:
        add_token(rsps)
        rsps.add(responses.GET, COUNT_URL, status=429, headers={"Retry-After": "4"})
        rsps.add(responses.GET, COUNT_URL, json={"count": 2})
        rsps.add(responses.GET, COUNT_URL, json={"count": 2})
        with make_client(clock, max_workers=4) as ps:
            assert ps.table_count(TABLE) == 2
            clock.now -= 4  # as if a second worker asked just when the first was refused
            seen: list[int] = []
            worker = threading.Thread(target=lambda: seen.append(ps.table_count(TABLE)))
            worker.start()
            worker.join()
    assert seen == [2]
    assert clock.waits == [4.0, 4.0]
