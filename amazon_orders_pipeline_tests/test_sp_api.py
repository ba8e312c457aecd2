"""The SP-API client against the emulator: paging, pacing, retries, token refresh, and nothing lost on faults."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.errors import ApiError
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.extract import change_window, search_params
from amazon_orders_pipeline.sp_api import LwaCredentials, RetryPolicy, SpApiClient, SpApiError
from amazon_orders_pipeline.sp_api.auth import AuthError, LwaAuth
from amazon_orders_pipeline.sp_api.orders_v2026 import OrdersV2026
from amazon_orders_pipeline.sp_api.rate_limit import TokenBucket
from amazon_orders_pipeline.testing.control import EmulatorControl

REFRESH = "Atzr|client-tests"
FAST_RETRY = RetryPolicy(base_delay_s=0.01, max_delay_s=0.05, timeout_s=5)


def make_client(emulator: Emulator, refresh: str = REFRESH, retry: RetryPolicy = FAST_RETRY,
                usage_plans: dict[str, tuple[float, int]] | None = None) -> SpApiClient:
    return SpApiClient.for_credentials(emulator.url, f"{emulator.url}/auth/o2/token",
                                       LwaCredentials("client", "secret", refresh), retry=retry, seed=1,
                                       usage_plans=usage_plans)


def day_params(days_ago: int = 4, page_size: int = 100, marketplaces=("A1F83G8C2ARO7P", "A1PA6795UKMFR9")):
    day = datetime.now(UTC).date() - timedelta(days=days_ago)
    window = change_window(day, datetime.now(UTC))
    return window, {**search_params(window, list(marketplaces), pii=True), "maxResultsPerPage": page_size}


def ids_and_versions(orders) -> list[tuple[str, str]]:
    return sorted((o["orderId"], o["lastUpdatedTime"]) for o in orders)


class TestTokenBucket:
    def test_burst_then_refill_at_rate(self):
        now = [0.0]
        bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
        assert [bucket.try_take() for _ in range(3)] == [0, 0, 0]
        assert bucket.try_take() == pytest.approx(0.5)
        now[0] += 0.5
        assert bucket.try_take() == 0
        now[0] += 100
        assert [bucket.try_take() for _ in range(4)][:3] == [0, 0, 0]  # refills only up to the burst

    def test_reserve_queues_waits_and_drain_empties(self):
        now = [0.0]
        bucket = TokenBucket(rate=1.0, burst=1, clock=lambda: now[0])
        assert bucket.reserve() == 0
        assert bucket.reserve() == pytest.approx(1.0)
        assert bucket.reserve() == pytest.approx(2.0)
        now[0] = 10
        bucket.drain()
        assert bucket.reserve() == pytest.approx(1.0)

    def test_seconds_for_counts_the_tokens_left_and_the_refill(self):
        now = [0.0]
        bucket = TokenBucket(rate=0.5, burst=2, clock=lambda: now[0])
        assert bucket.seconds_for(2) == 0
        assert bucket.seconds_for(3) == pytest.approx(2.0)
        bucket.try_take()
        bucket.try_take()
        assert bucket.seconds_for(1) == pytest.approx(2.0)
        now[0] += 1
        assert bucket.seconds_for(3) == pytest.approx(5.0)

    def test_adapts_to_a_new_rate(self):
        now = [0.0]
        bucket = TokenBucket(rate=1.0, burst=1, clock=lambda: now[0])
        bucket.reserve()
        bucket.set_rate(4.0)
        assert bucket.reserve() == pytest.approx(0.25)

    def test_a_client_paces_by_amazons_plans_unless_told_others(self):
        auth = LwaAuth("http://127.0.0.1:9/auth/o2/token", LwaCredentials("c", "s", "r"))
        documented = SpApiClient("http://127.0.0.1:9", auth)
        faster = SpApiClient("http://127.0.0.1:9", auth, usage_plans={"searchOrders": (5.6, 20)})
        # 21 calls: the burst of 20, then one token at the plan's rate (paced a little under it).
        assert documented.quota_seconds("searchOrders", 21) > 150
        assert 0.15 < faster.quota_seconds("searchOrders", 21) < 0.3
        assert faster.quota_seconds("getOrderItems", 31) == documented.quota_seconds("getOrderItems", 31)


class TestPagination:
    def test_pages_to_the_end_and_equals_ground_truth(self, emulator, control):
        client = make_client(emulator)
        window, params = day_params(page_size=20)
        pages = list(OrdersV2026(client).search_orders(params))
        assert len(pages) > 3
        assert [p.number for p in pages] == list(range(1, len(pages) + 1))
        assert pages[-1].next_token is None and all(p.next_token for p in pages[:-1])
        got = [o for p in pages for o in p.orders]
        truth = control.ground_truth(REFRESH, window.start, window.end, params["marketplaceIds"])
        assert ids_and_versions(got) == ids_and_versions(truth)
        assert len({o["orderId"] for o in got}) == len(got)
        assert all(p.request_id for p in pages)
        assert client.stats.calls == len(pages) and client.stats.throttled_calls == 0

    def test_resume_from_a_token_continues_where_it_stopped(self, emulator):
        # Three clients share the seller's quota: the third may meet a 429 first, and a 429 carries no rate header,
        # so each starts from the emulator's rates, not Amazon's (which would wait minutes a page in real time).
        plans = emulator.state.usage_plans()
        _, params = day_params(page_size=25)
        full = list(OrdersV2026(make_client(emulator, usage_plans=plans)).search_orders(params))
        first_two = list(OrdersV2026(make_client(emulator, usage_plans=plans)).search_orders(params))[:2]
        rest = list(OrdersV2026(make_client(emulator, usage_plans=plans)).search_orders(
            params, next_token=first_two[-1].next_token, first_page=3))
        assert [p.number for p in rest] == list(range(3, len(full) + 1))
        resumed = [o["orderId"] for p in first_two + rest for o in p.orders]
        assert resumed == [o["orderId"] for p in full for o in p.orders]


class TestPacing:
    def test_bucket_keeps_throttling_near_zero_through_burst_and_refill(self):
        # searchOrders at 0.0056/s x 1500 = 8.4/s, burst 20: 50 pages need about (50 - 20) / 8.4 = 3.6 s.
        # One region's marketplaces (UK and DE: about 40% of the seller's orders).
        with Emulator(speed=1500, seed=3, orders_per_day=2500) as emu:
            client = make_client(emu)
            _, params = day_params(page_size=20)
            started = time.monotonic()
            pages = list(OrdersV2026(client).search_orders(params))
            elapsed = time.monotonic() - started
            assert len(pages) >= 45
            bound = (len(pages) - 20) / (0.0056 * 1500)
            assert client.stats.throttled_calls <= 1
            assert elapsed >= bound * 0.95  # it really waited for quota rather than being lucky
            assert client.stats.quota_wait_s > 0
            assert EmulatorControl(emu).stats().get("searchOrders.429", 0) == client.stats.throttled_calls

    def test_a_stranger_using_the_quota_costs_only_a_few_429s(self):
        with Emulator(speed=3000, seed=3, orders_per_day=900) as emu:
            _, params = day_params(page_size=10)
            client = make_client(emu)
            # One call teaches the client the advertised rate (a 429 carries no rate header)...
            list(OrdersV2026(client).search_orders({
                "createdAfter": "2026-01-01T00:00:00Z", "createdBefore": "2026-01-01T00:00:01Z",
                "marketplaceIds": params["marketplaceIds"]}))
            # ...then another process spends the rest of the account's burst.
            with pytest.raises(ApiError):
                while True:
                    emu.state.take_quota(seller_key(REFRESH), "searchOrders")
            pages = list(OrdersV2026(client).search_orders(params))
            assert len(pages) > 25 and pages[-1].next_token is None
            # Our bucket believed in a full burst; the first 429 empties it and pacing takes over.
            assert 1 <= client.stats.throttled_calls <= 3


class TestFaults:
    @pytest.mark.parametrize("plan", [
        {"throttle": 0.3, "storm_length": 4},
        {"server_error": 0.25, "unavailable": 0.25},
        {"truncate": 0.3},
        {"drop": 0.3},
        {"slow": 0.3, "slow_seconds": 0.2},
        {"revoke_token_every": 3},
    ], ids=["429-storms", "5xx", "truncated", "dropped", "slow", "token-revoked"])
    def test_nothing_is_lost_under_faults(self, emulator, control, plan):
        control.faults(seed=11, **plan)
        client = make_client(emulator)
        window, params = day_params(page_size=20)
        got = [o for p in OrdersV2026(client).search_orders(params) for o in p.orders]
        control.faults()
        truth = control.ground_truth(REFRESH, window.start, window.end, params["marketplaceIds"])
        assert ids_and_versions(got) == ids_and_versions(truth)
        stats = client.stats
        if "throttle" in plan:
            assert stats.throttled_calls > 0
        elif "revoke_token_every" in plan:
            assert stats.token_refreshes > 0 and client.auth.refreshes > 1
        elif "slow" not in plan:
            assert stats.retries > 0

    def test_a_slow_response_past_the_timeout_is_retried(self, emulator, control):
        control.faults(slow=1.0, slow_seconds=0.3)
        client = make_client(emulator, retry=RetryPolicy(base_delay_s=0.01, timeout_s=0.1, max_attempts=3))
        _, params = day_params()
        with pytest.raises(SpApiError, match="RetriesExhausted"):
            list(OrdersV2026(client).search_orders(params))
        assert client.stats.retries == 2

    def test_bad_parameters_fail_at_once_with_amazons_message(self, emulator):
        client = make_client(emulator)
        with pytest.raises(SpApiError) as err:
            list(OrdersV2026(client).search_orders({"lastUpdatedAfter": "yesterday"}))
        assert err.value.status == 400 and err.value.code == "InvalidInput"
        assert client.stats.retries == 0


class TestAuth:
    def test_access_token_is_cached_until_near_expiry(self, emulator):
        now = [0.0]
        auth = LwaAuth(f"{emulator.url}/auth/o2/token", LwaCredentials("c", "s", REFRESH), clock=lambda: now[0])
        first = auth.token()
        assert auth.token() == first and auth.refreshes == 1
        now[0] = 3600 - 61
        assert auth.token() == first
        now[0] = 3600 - 59  # inside the safety margin: refresh before Amazon would refuse it
        assert auth.token() != first and auth.refreshes == 2

    def test_expired_token_after_a_clock_jump_is_refreshed_once(self, emulator, control):
        client = make_client(emulator)
        _, params = day_params(days_ago=6)
        list(OrdersV2026(client).search_orders(params))
        control.set_clock(datetime.now(UTC) + timedelta(hours=2))  # every token the emulator issued is expired
        pages = list(OrdersV2026(client).search_orders(params))
        assert pages and client.stats.token_refreshes == 1

    def test_refused_credentials_name_no_secret(self, emulator):
        auth = LwaAuth(f"{emulator.url}/auth/o2/token", LwaCredentials("c", "", "Atzr|super-secret-value"))
        with pytest.raises(AuthError) as err:
            auth.token()
        assert "super-secret-value" not in str(err.value) and "400" in str(err.value)
        assert "super-secret-value" not in repr(LwaCredentials("c", "s", "Atzr|super-secret-value"))
