"""Scenario files: every field is checked on load (type, range, finiteness) and every field is used,
with errors that name file, line and field; the typed TOML reader behind them (onboard.tomlfields)."""

from __future__ import annotations

import re

import pytest

from onboard.scenario import ScenarioError, load_scenario, parse_scenario
from onboard.tomlfields import TomlDoc, TomlFieldError

MINIMAL = """\
[scenario]
name = "x"
duration_s = 100.0

[[relay]]
name = "r"
scid = 1
frame_length = 1115

[ground_station]
name = "g"
"""

ORBIT = """\
[relay.orbit]
epoch_wn = 2400
epoch_tow_s = 345600.0
a_km = 6541.4
e = 0.6
i_deg = 56.2
raan_deg = 0.0
argp_deg = 90.0
m0_deg = 0.0
"""


def error_of(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "s.toml")
    message = str(info.value)
    assert "\n" not in message
    return message


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_minimal_and_default_scenarios_load():
    sc = parse_scenario(MINIMAL, "s.toml")
    assert (sc.name, sc.duration_s, sc.relays[0].scid, sc.ground_station) == ("x", 100.0, 1, "g")
    default = load_scenario()
    assert default.name == "moonlight-default" and len(default.surface_users) == 2


@pytest.mark.parametrize("field, table, value", [
    ("duration_s", "[scenario]", "nan"), ("duration_s", "[scenario]", "inf"),
    ("time_scale", "[scenario]", "inf"), ("time_scale", "[scenario]", "-nan"),
    ("packets_per_s", "[[surface_user]]", "nan"), ("frame_rate_hz", "[downlink]", "inf"),
    ("start_s", "[[contact]]", "nan"), ("end_s", "[[contact]]", "inf"),
])
def test_nan_and_inf_are_refused_naming_file_line_and_field(field, table, value):
    extra = {"[[surface_user]]": 'name = "u"\napid = 0x101\npacket_length = 100\npackets_per_s = 1.0\n',
             "[downlink]": "frame_rate_hz = 10.0\n", "[[contact]]": "start_s = 0.0\nend_s = 50.0\n"}
    text = MINIMAL if table == "[scenario]" else MINIMAL + f"\n{table}\n" + extra[table]
    text = re.sub(rf"(?m)^{field} = .*$", f"{field} = {value}", text) if f"\n{field} =" in text \
        else text.replace("[scenario]\n", f"[scenario]\n{field} = {value}\n")
    message = error_of(text)
    assert message.startswith(f"s.toml:{line_of(text, f'{field} = {value}')}: ")
    assert f".{field}: " in message and "not a finite number" in message


def test_rs_interleave_depth_7_is_refused():
    # CCSDS 131.0-B-4 §4.3.7: interleave depths 1 to 5 and 8
    text = MINIMAL.replace("frame_length = 1115", "frame_length = 1561") + "\n[downlink]\nrs_interleave = 7\n"
    message = error_of(text)
    where = f"s.toml:{line_of(text, 'rs_interleave')}: downlink.rs_interleave"
    assert message.startswith(f"{where}: 7 is not one of")
    assert "1, 2, 3, 4, 5, 8" in message


def test_a_table_where_an_array_of_tables_belongs_is_a_one_line_error():
    text = MINIMAL.replace("[[relay]]", "[relay]")
    message = error_of(text)
    assert message == (f"s.toml:{line_of(text, '[relay]')}: relay: expected an array of tables ([[relay]]), "
                       "got a table")


def test_a_number_where_a_table_belongs_is_a_one_line_error():
    text = "ground_station = 5\n" + MINIMAL.replace('[ground_station]\nname = "g"\n', "")
    assert error_of(text) == f"s.toml:{line_of(text, 'ground_station')}: ground_station: expected a table " \
                             "([ground_station]), got int 5"
    text = MINIMAL + "\n[downlink]\nframe_rate_hz = 10.0\n[downlink.conv]\nrate = 2\n"
    assert "downlink.conv: expected a string, got a table" in error_of(text)


def test_step_s_is_no_longer_a_field():
    text = MINIMAL.replace("duration_s = 100.0\n", "duration_s = 100.0\nstep_s = 10.0\n")
    message = error_of(text)
    assert message.startswith(f"s.toml:{line_of(text, 'step_s')}: scenario.step_s: ")
    assert "emulation clock" in message


@pytest.mark.parametrize("typo, where", [
    ("duraton_s = 5.0", "[scenario]"), ("scid_ = 1", "[[relay]]"), ("rate = 1.0", "[downlink]"),
    ("randomise = false", "[uplink]"), ("e_ = 0.1", "[relay.orbit]"),
])
def test_an_unknown_field_is_an_error_naming_it(typo, where):
    text = MINIMAL + "\n" + ORBIT + "\n[downlink]\nframe_rate_hz = 10.0\n[uplink]\nrandomize = true\n"
    text = text.replace(f"{where}\n", f"{where}\n{typo}\n", 1)
    message = error_of(text)
    key = typo.split(" ")[0]
    assert message.startswith(f"s.toml:{line_of(text, typo)}: ") and f".{key}: unknown field" in message


def test_an_unknown_table_is_an_error():
    message = error_of(MINIMAL + "\n[groundstation]\nname = \"g2\"\n")
    assert "groundstation: unknown field" in message


def test_a_second_relay_that_only_has_links_is_refused_naming_the_field():
    text = MINIMAL + '\n[[relay]]\nname = "r2"\nscid = 2\nframe_length = 1115\n'
    message = error_of(text)
    assert message.startswith(f"s.toml:{line_of(text, 'scid = 2')}: relay[1].scid: ")
    assert "first relay" in message


def test_a_second_relay_with_an_orbit_is_a_navigation_node():
    first = MINIMAL.replace("frame_length = 1115\n", "frame_length = 1115\nafs_prn = 1\n")
    sc = parse_scenario(first + ORBIT + '\n[[relay]]\nname = "r2"\nafs_prn = 2\n' + ORBIT, "s.toml")
    assert [r.afs_prn for r in sc.relays] == [1, 2] and sc.relays[1].orbit is not None
    assert sc.relays[1].scid is None
    without_orbit = MINIMAL + '\n[[relay]]\nname = "r2"\nafs_prn = 2\n'
    assert "relay[1].orbit: " in error_of(without_orbit)


def test_relays_users_and_contacts_are_checked_against_each_other():
    user = '\n[[surface_user]]\nname = "{}"\napid = {}\npacket_length = 100\npackets_per_s = 1.0\n'
    dup = MINIMAL + user.format("u", "0x101") + user.format("v", "0x101")
    assert "surface_user[1].apid: APID 0x101 is already surface_user[0]'s" in error_of(dup)
    outside = MINIMAL + user.format("u", "0x050")
    assert "surface_user[0].apid: 80 is outside [256, 511]" in error_of(outside)
    late = MINIMAL + "\n[[contact]]\nstart_s = 150.0\nend_s = 200.0\n"
    assert "contact[0].start_s: 150.0 is not before the end of the run" in error_of(late)


def test_the_line_of_a_field_in_a_nested_table_of_an_array_of_tables():
    text = MINIMAL + ORBIT.replace("e = 0.6", "e = 1.5")
    assert error_of(text).startswith(f"s.toml:{line_of(text, 'e = 1.5')}: relay[0].orbit.e: 1.5 is outside")


def test_toml_reader_locates_keys_after_multiline_values_and_in_arrays_of_tables():
    text = ('a = """\nx = 1\n[not.a.table]\n"""\nb = [\n  1,\n  2,\n]\n[[t]]\nk = 1\n[[t]]\nk = "two"\n'
            '[t.sub]\nq = inf\n')
    doc = TomlDoc(text, "f.toml")
    assert doc.lines[("b",)] == 5 and doc.lines[("t", 1, "k")] == 12 and doc.lines[("t", 1, "sub", "q")] == 14
    assert ("x",) not in doc.lines and ("not", "a", "table") not in doc.lines
    tables = doc.root.tables("t")
    with pytest.raises(TomlFieldError, match=r"^f.toml:12: t\[1\]\.k: expected an integer, got str 'two'$"):
        tables[1].get("k", int)
    with pytest.raises(TomlFieldError, match=r"^f.toml:14: t\[1\]\.sub\.q: inf is not a finite number$"):
        tables[1].table("sub").get("q", float)
    with pytest.raises(TomlFieldError, match=r"^f.toml:1: a: unknown field"):
        doc.root.finish()


def test_a_navigation_node_relay_broadcasts_its_own_frames(tmp_path):
    from lunarelay_tools.commands.emulate import broadcast_frames

    first = MINIMAL.replace("frame_length = 1115\n", "frame_length = 1115\nafs_prn = 1\n")
    second = ORBIT.replace("m0_deg = 0.0", "m0_deg = 180.0")
    sc = parse_scenario(first + ORBIT + '\n[[relay]]\nname = "r2"\nafs_prn = 2\n' + second, "s.toml")
    lines = broadcast_frames(sc, str(tmp_path))
    assert len(lines) == 2 and "AFS PRN 2" in lines[1]
    assert len(list(tmp_path.glob("frame_1_*.bin"))) == len(list(tmp_path.glob("frame_2_*.bin"))) == 8


def test_a_siggen_table_in_a_scenario_is_checked_on_load():
    siggen = '\n[siggen]\nfs_hz = 4e6\nduration_s = 1.0\n[[siggen.channel]]\nsignal = "gps-l1ca"\nprn = 1\n' \
             'doppler_hz = 0.0\ncn0_dbhz = 45.0\n'
    assert parse_scenario(MINIMAL + siggen, "s.toml").name == "x"
    typo = MINIMAL + siggen.replace("cn0_dbhz = 45.0", "cn0_dbhz = 45.0\ncn0 = 40.0")
    assert f"s.toml:{line_of(typo, 'cn0 = 40.0')}: siggen.channel[0].cn0: unknown field" in error_of(typo)
    receiver = '[siggen.receiver]\nllh = [41.0, 2.0, 80.0]\ngps_week = 2360\ngps_tow_s = 0.0\n'
    unused = MINIMAL + siggen + receiver
    assert "siggen.receiver: the receiver is used only with nav_data" in error_of(unused)
