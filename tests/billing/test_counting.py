"""The counting rules of docs/billing.md, table-driven, around UTC month boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.billing.counting import (
    AllocationState,
    CountedUser,
    InvalidMonth,
    Totals,
    count_checked_user,
    count_portal_user,
    merge_counted,
    month_bounds,
    reconciliation_flag,
)

NOV = "2026-11"
START, END = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def added(when, customer=1, reseller=None, licence_type="standard"):
    return AllocationState(when, True, customer, reseller, licence_type)


def suspended(when, customer=1, reseller=None, licence_type="standard"):
    return AllocationState(when, False, customer, reseller, licence_type)


removed = suspended  # a removal is "not allocated after", keeping the last customer


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param([], None, id="no-history"),
        pytest.param([added(START - SECOND)], (1, "standard", START, END), id="allocated-before-the-month"),
        pytest.param([added(END - SECOND)], (1, "standard", END - SECOND, END), id="added-in-the-last-second"),
        pytest.param([added(END)], None, id="added-at-the-next-month-start"),
        pytest.param([added(START - SECOND), removed(START)], None, id="removed-at-the-first-instant"),
        pytest.param(
            [added(START - SECOND), removed(START + SECOND)], (1, "standard", START, START + SECOND), id="one-second"
        ),
        pytest.param([suspended(START - SECOND)], None, id="suspended-all-month"),
        pytest.param([added(START - 9 * SECOND), removed(START - SECOND)], None, id="removed-before-the-month"),
        pytest.param(
            [added(at(2)), suspended(at(3)), added(at(4)), removed(at(5)), added(at(6)), removed(at(7))],
            (1, "standard", at(2), at(7)),
            id="churn-counts-once",
        ),
        pytest.param(
            [added(at(2), customer=1), added(at(20), customer=2)], (2, "standard", at(2), END), id="moved-ends-under-2"
        ),
        pytest.param(
            [added(at(2), customer=1), removed(at(10), customer=1)], (1, "standard", at(2), at(10)), id="removed-last"
        ),
        pytest.param(
            [added(at(2), licence_type="pro"), added(at(9), licence_type="standard")],
            (1, "standard", at(2), END),
            id="type-it-ended-with",
        ),
        pytest.param(
            [added(at(2), licence_type="pro"), suspended(at(9), licence_type="lite")],
            (1, "lite", at(2), at(9)),
            id="type-of-last-state-even-suspended",
        ),
        pytest.param([added(at(2)), suspended(END + SECOND)], (1, "standard", at(2), END), id="later-events-ignored"),
    ],
)
def test_portal_rule(events, expected):
    row = count_portal_user("anna", events, NOV)
    if expected is None:
        assert row is None
    else:
        assert (row.customer_id, row.licence_type, row.evidence_from, row.evidence_to) == expected
        assert row.basis == "portal"


def test_month_boundaries_are_utc():
    # 00:30 on 1 December in UTC+02:00 is still November in UTC
    late = datetime(2026, 12, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert count_portal_user("anna", [added(late)], NOV) is not None
    assert count_portal_user("anna", [added(late)], "2026-12") is not None


@pytest.mark.parametrize(
    ("month", "bounds"),
    [
        ("2026-11", (START, END)),
        ("2026-12", (END, datetime(2027, 1, 1, tzinfo=UTC))),
        ("2024-02", (datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))),
    ],
)
def test_month_bounds(month, bounds):
    assert month_bounds(month) == bounds


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-11", "", "2026-11-01", "2026-00"])
def test_bad_months(month):
    with pytest.raises(InvalidMonth):
        month_bounds(month)


def test_a_user_counts_once_and_portal_wins():
    portal = [count_portal_user(k, [added(at(2))], NOV) for k in ("a", "c")]
    checked = [count_checked_user(k, "web_service", None, at(3), at(4)) for k in ("a", "b")]
    rows = list(merge_counted(portal, checked))
    assert [(r.user_key, r.basis) for r in rows] == [("a", "portal"), ("b", "web_service"), ("c", "portal")]


def test_breakdowns_add_up():
    totals = Totals()
    for key, reseller, customer, licence_type in [("a", 1, 10, "std"), ("b", 1, 11, "pro"), ("c", None, 12, "std")]:
        totals.add(CountedUser(key, "portal", reseller, customer, licence_type, START, END))
    out = totals.as_dict()
    assert out["users"] == 3
    for name in ("per_licence_type", "per_reseller", "per_customer", "per_basis"):
        assert sum(out[name].values()) == 3
    assert out["per_reseller"] == {"1": 2, "none": 1}


@pytest.mark.parametrize(
    ("reported", "seen", "differing", "flagged"),
    [
        (100, 100, 5, False),  # 5 users is the floor
        (100, 100, 6, True),
        (1000, 1000, 20, False),  # 2 % of 1000
        (1000, 1000, 21, True),
        (0, 0, 0, False),
    ],
)
def test_reconciliation_flag(reported, seen, differing, flagged):
    assert reconciliation_flag(reported, seen, differing, percent=2.0, min_users=5) is flagged
