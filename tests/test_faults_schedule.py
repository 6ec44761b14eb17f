"""The fault plan: ``[[fault]]`` tables read with file, line and field in every error, and the
same seed drawing the same fault sequence."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil.faults.schedule import Fault, FaultSchedule, FaultScheduleError

PLAN = """
[faults]
seed = 11

[[fault]]
kind = "disconnect"
start_s = 1.0
duration_s = 30.0
every_s = 4.0
down_s = 0.5

[[fault]]
kind = "drop"
probability = 0.25
direction = "to_board"

[[fault]]
kind = "outage"
start_s = 3.0
duration_s = 2.0
"""


def test_fault_tables_read_into_a_plan_with_the_file_seed():
    plan = FaultSchedule.from_toml(PLAN, "bench.toml")
    assert plan.seed == 11 and len(plan) == 3
    assert plan.faults[1] == Fault("drop", probability=0.25, direction="to_board")
    assert plan.active("drop", 100.0, "to_board") and not plan.active("drop", 100.0, "to_host")
    outage = plan.occurrences(("outage",))
    assert [(o.at_s, o.until_s) for o in outage] == [(3.0, 5.0)]


def test_the_same_seed_draws_the_same_fault_sequence_and_another_seed_another():
    a = FaultSchedule.from_toml(PLAN, "bench.toml")
    b = FaultSchedule.from_toml(PLAN, "bench.toml")
    c = FaultSchedule.from_toml(PLAN, "bench.toml", seed=12)
    times = [o.at_s for o in a.occurrences(("disconnect",))]
    assert times == [o.at_s for o in b.occurrences(("disconnect",))]
    assert times != [o.at_s for o in c.occurrences(("disconnect",))]
    # a Poisson process over the window: several repeats, none overlapping, all inside it
    assert len(times) >= 3
    ends = [o.until_s for o in a.occurrences(("disconnect",))]
    assert all(1.0 <= t < 31.0 for t in times)
    assert all(end <= nxt for end, nxt in zip(ends, times[1:], strict=False))
    # the per-frame draws of a proxy direction too
    assert (a.rng("serial/to_board").random(50) == b.rng("serial/to_board").random(50)).all()
    assert not (a.rng("serial/to_board").random(50) == c.rng("serial/to_board").random(50)).all()
    assert not (a.rng("serial/to_board").random(50) == a.rng("serial/to_host").random(50)).all()


@pytest.mark.parametrize(("text", "message"), [
    ('[[fault]]\nkind = "drop"\nprobabilty = 0.2\n', r"bench.toml:3: fault\[0\].probabilty: unknown field"),
    ('[[fault]]\nkind = "drop"\n', r"bench.toml:1: fault\[0\].probability: missing"),
    ('[[fault]]\nkind = "dorp"\n', r"bench.toml:2: fault\[0\].kind: 'dorp' is not one of ber, drop"),
    ('[[fault]]\nkind = "ber"\nber = 2.0\n', r"bench.toml:3: fault\[0\].ber: 2.0 is outside \[0.0, 1.0\]"),
    ('[[fault]]\nkind = "ber"\nber = nan\n', r"bench.toml:3: fault\[0\].ber: nan is not a finite number"),
    ('\n[[fault]]\nkind = "disconnect"\nevery_s = 2.0\n',
     r"bench.toml:2: fault\[0\]: fault disconnect: every_s needs a duration_s"),
    ('[[fault]]\nkind = "baud_mismatch"\nratio = 1.0\n', r"bench.toml:1: fault\[0\]: .*ratio 1.0 must be"),
    ('[[fault]]\nkind = "outage"\nstart_s = 1\n', r"bench.toml:1: fault\[0\]: .*needs a duration_s"),
    ('[[fault]]\nkind = "peer_restart"\ndirection = "to_board"\n',
     r"bench.toml:3: fault\[0\].direction: unknown field"),
    ('[faults]\nsed = 3\n', r"bench.toml:2: faults.sed: unknown field"),
    ('[[fault]]\nkind = "garbage"\nduration_s = 1e300\nevery_s = 1e-300\n',
     r"bench.toml:1: fault\[0\]: .*would strike more than 1000000 times"),
])
def test_a_bad_fault_table_is_refused_naming_file_line_and_field(text, message):
    with pytest.raises(FaultScheduleError, match=message):
        FaultSchedule.from_toml(text, "bench.toml")


def test_a_plan_selects_the_faults_of_one_link():
    plan = FaultSchedule([Fault("ber", ber=1e-3, link="fc"), Fault("ber", ber=1e-4),
                          Fault("peer_restart"), Fault("ber", ber=1e-2, link="other")], seed=3)
    fc = plan.select(("ber",), link="fc")
    assert [f.ber for f in fc.faults] == [1e-3, 1e-4] and fc.seed == 3
    assert [f.ber for f in plan.select(("ber",)).faults] == [1e-4]       # no link named: common ones


def test_the_part_of_a_plan_one_proxy_selects_strikes_when_the_whole_plan_says():
    whole = FaultSchedule.from_toml(PLAN, "bench.toml")
    part = whole.select(("disconnect",))
    assert part.occurrences() == whole.occurrences(("disconnect",))
    reordered = FaultSchedule([whole.faults[2], whole.faults[0]], whole.seed, [2, 0])
    assert reordered.occurrences(("disconnect",)) == whole.occurrences(("disconnect",))


def test_open_proxy_names_a_kind_it_does_not_know_and_a_host_end_it_cannot_offer():
    from hil.faults import open_proxy
    from onboard.errors import UsageError

    with pytest.raises(UsageError, match="unknown fault proxy kind 'can'; known: serial, zmq-push"):
        open_proxy("can", "a", "b")
    with pytest.raises(UsageError, match="host's end 'com3' is not pty, pty:PATH or tcp://HOST:PORT"):
        open_proxy("serial", "/dev/ttyUSB0", "com3")
    with pytest.raises(UsageError, match="'udp://nowhere' is not udp://HOST:PORT"):
        open_proxy("outage-udp", "udp://nowhere", "udp://127.0.0.1:9")


def test_open_proxy_seed_replaces_the_plan_seed():
    from hil.faults import open_proxy

    proxy = open_proxy("outage-udp", "udp://127.0.0.1:0", "udp://127.0.0.1:9",
                       FaultSchedule([Fault("outage", duration_s=1.0, every_s=0.1, down_s=0.05)], seed=1),
                       seed=2)
    try:
        again = FaultSchedule([Fault("outage", duration_s=1.0, every_s=0.1, down_s=0.05)], seed=2)
        assert proxy.gate.windows == [(o.at_s, o.until_s) for o in again.occurrences()]
        assert proxy.url.startswith("udp://127.0.0.1:") and not proxy.url.endswith(":0")
    finally:
        proxy.sock.close()


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(v), repr(v))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return str(v)


_FIELD = st.sampled_from(["kind", "start_s", "duration_s", "direction", "link", "ber", "probability",
                          "octets", "text", "every_s", "down_s", "ratio", "lose_samples", "speed"])
_VALUE = st.one_of(st.sampled_from(["drop", "ber", "disconnect", "outage", "peer_restart", "baud_mismatch",
                                    "garbage", "console", "both", "to_host"]),
                   st.integers(-5, 70000), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                   st.text(max_size=8), st.lists(st.integers(0, 3), max_size=3))


@settings(max_examples=int(os.environ.get("LUNARELAY_FUZZ_EXAMPLES", "60")), deadline=None)
@given(st.lists(st.dictionaries(_FIELD, _VALUE, max_size=6), max_size=3), st.integers(0, 2**32))
def test_any_fault_table_gives_a_plan_or_one_error_naming_the_file(tables, seed):
    text = "".join("[[fault]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in t.items()) for t in tables)
    try:
        plan = FaultSchedule.from_toml(text, "bench.toml", seed=seed)
    except FaultScheduleError as exc:
        assert str(exc).startswith("bench.toml") and "\n" not in str(exc)
        return
    assert len(plan) == len(tables)
    for o in plan.occurrences():
        assert o.at_s <= o.until_s
