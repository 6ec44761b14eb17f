"""A scenario's [world]: the default scenario is the Moonlight-like constellation, and its run's
contacts come from geometry (any ground antenna, surface users' local masks), [[contact]] overriding."""

from __future__ import annotations

import numpy as np
import pytest

from hil.world import contacts
from hil.world.constellation import DEFAULT_CONSTELLATION
from hil.world.scenario_world import World, contact_plan, handovers
from lunarelay_tools.commands.emulate import contacts_from_geometry
from onboard.nav.gps_ephemeris import elevation_azimuth, llh_to_ecef
from onboard.scenario import Contact, ScenarioError, load_scenario, parse_scenario

DAY = 86400.0
MINIMAL = """\
[scenario]
name = "x"
duration_s = 600.0

[world]
start_wn = 2400
start_tow_s = 363780.0

[[relay]]
name = "relay-1"
scid = 1
frame_length = 1115

[[surface_user]]
name = "rover"
apid = 0x102
packet_length = 100
packets_per_s = 1.0

[ground_station]
name = "g"
"""


@pytest.fixture(scope="module")
def default():
    sc = load_scenario()
    world = sc.tables["world"]
    users = [u.name for u in sc.surface_users]
    return sc, world, contact_plan(world, sc.relays[0].name, users, sc.duration_s)


def test_the_default_scenario_is_four_24h_nodes_one_relay_two_far_side_users_and_three_antennas(default):
    sc, world, _ = default
    c = world.constellation
    assert world.constellation_path == str(DEFAULT_CONSTELLATION)
    assert [n.afs_prn for n in c.nodes] == [1, 2, 3, 4]
    assert all(n.elements.period_s == pytest.approx(DAY, rel=1e-3) for n in c.nodes)
    assert [r.name for r in sc.relays] == ["relay-1"] and sc.relays[0].orbit is None  # its orbit: the world's
    assert [u.name for u in sc.surface_users] == ["lander", "rover"]
    assert [s.name for s in c.ground_stations] == ["New Norcia", "Cebreros", "Malargue"]
    assert not sc.contacts                     # nothing written by hand


def test_the_default_run_loses_the_relay_behind_the_moon_and_gets_it_back(default):
    sc, world, plan = default
    ground = plan.ground
    # in view at the start, a loss of signal, and a reacquisition well before the end
    assert ground[0].start_s == 0.0 and len(ground) == 2
    los, aos = ground[0].end_s, ground[1].start_s
    assert 60.0 < los < aos - 60.0 and aos < sc.duration_s - 60.0 and ground[1].end_s == sc.duration_s
    # checked against the geometry directly: inside a window its antenna sees the relay, in the gap
    # no antenna does, and the Moon is what is in the way
    c = world.constellation
    orbit = c.truth_orbit(c.relays[0].elements, world.start_s + sc.duration_s)
    stations = {s.name: s for s in c.ground_stations}
    for w in ground:
        for t in world.start_s + np.linspace(w.start_s + 1.0, w.end_s - 1.0, 7):
            assert contacts.station_sees(stations[w.antenna], orbit.state(t)[0], t)
    blocked = 0
    for t in world.start_s + np.linspace(los + 1.0, aos - 1.0, 7):
        r = orbit.state(t)[0]
        assert not any(contacts.station_sees(s, r, t) for s in c.ground_stations)
        sat, moon = contacts.relay_ecef_m(r, t), contacts.relay_ecef_m(np.zeros(3), t)
        for s in c.ground_stations:
            rx = np.asarray(llh_to_ecef(s.lat_deg, s.lon_deg, s.height_m))
            above = np.degrees(float(elevation_azimuth(rx, sat)[0])) >= s.elevation_mask_deg
            blocked += above and contacts.moon_blocks(rx, sat, moon)
    assert blocked >= 7                        # an antenna has the relay above its mask, behind the Moon
    # the rover on the far side sees the relay all through the loss of signal: its packets wait in
    # the store; the south-pole lander has it under its mask all run
    assert any(a <= los and aos <= b for a, b in plan.users["rover"])
    assert plan.users["lander"] == ()
    assert plan.user_sees("rover", 0.5 * (los + aos)) and not plan.user_sees("lander", 0.0)


def test_emulate_takes_the_contacts_from_geometry_unless_the_scenario_gives_them(default):
    sc, _, plan = default
    computed, geometry = contacts_from_geometry(sc)
    assert computed.contacts == plan.ground and geometry.users == plan.users
    gap = 0.5 * (plan.ground[0].end_s + plan.ground[1].start_s)
    assert computed.in_view(1.0) and not computed.in_view(gap)
    assert computed.antenna_at(1.0) == plan.ground[0].antenna
    given = parse_scenario(MINIMAL + "[[contact]]\nstart_s = 10.0\nend_s = 20.0\n", "s.toml")
    kept, geometry = contacts_from_geometry(given)
    assert kept.contacts == (Contact(10.0, 20.0),) and geometry.users["rover"]


def test_handover_keeps_an_antenna_until_it_loses_the_relay():
    got = handovers({"A": [(0.0, 100.0), (300.0, 400.0)], "B": [(50.0, 200.0)], "C": [(90.0, 150.0)]})
    assert got == (Contact(0.0, 100.0, "A"), Contact(100.0, 200.0, "B"), Contact(300.0, 400.0, "A"))
    assert handovers({"A": []}) == ()


def test_world_errors_name_the_file_the_line_and_the_field(tmp_path):
    early = MINIMAL.replace("start_tow_s = 363780.0", "start_tow_s = 0.0")
    with pytest.raises(ScenarioError, match=r"^s.toml:7: world.start_tow_s: the run starts -4.000 days"):
        parse_scenario(early, "s.toml")
    missing = MINIMAL.replace("[world]\n", '[world]\nconstellation = "absent.toml"\n')
    with pytest.raises(ScenarioError, match=r"^s.toml:6: world.constellation: .*absent.toml: cannot read"):
        parse_scenario(missing, "s.toml")
    typo = MINIMAL.replace("start_wn = 2400", "start_wn = 2400\nstart = 1")
    with pytest.raises(ScenarioError, match=r"world.start: unknown field"):
        parse_scenario(typo, "s.toml")
    stranger = parse_scenario(MINIMAL.replace('name = "rover"', 'name = "lost"'), "s.toml")
    with pytest.raises(ScenarioError, match="no surface user named 'lost'"):
        contacts_from_geometry(stranger)
    other_relay = parse_scenario(MINIMAL.replace('name = "relay-1"', 'name = "relay-9"'), "s.toml")
    with pytest.raises(ScenarioError, match="no relay named 'relay-9'"):
        contacts_from_geometry(other_relay)


def test_a_world_names_its_constellation_relative_to_the_scenario(tmp_path):
    (tmp_path / "c.toml").write_text(DEFAULT_CONSTELLATION.read_text().replace('"Cebreros"', '"Robledo"'))
    path = tmp_path / "s.toml"
    path.write_text(MINIMAL.replace("[world]\n", '[world]\nconstellation = "c.toml"\n'))
    world = load_scenario(path).tables["world"]
    assert isinstance(world, World) and world.constellation_path == str(tmp_path / "c.toml")
    assert "Robledo" in [s.name for s in world.constellation.ground_stations]


def test_a_surface_user_keeps_its_packets_while_it_does_not_see_the_relay(tmp_path):
    from hil.surface.user import SurfaceUser

    user = SurfaceUser("rover", 0x102, 100, 10.0, f"ipc://{tmp_path}/prox", f"ipc://{tmp_path}/ack", 1)
    try:
        user.step(1000.0, sees_relay=False)
        user.step(1002.0, sees_relay=False)
        assert user.generated == 20 and user.sent == 0 and user.pltus == 0
        user.step(1003.0, sees_relay=True)          # in view: what waited goes out, with the new ones
        assert user.generated == 30 and user.sent == 30 and user.pltus > 0
    finally:
        user.close()


def test_emulate_describes_the_world_and_where_each_contact_comes_from(default):
    from lunarelay_tools.commands.emulate import describe_contacts

    sc, _, plan = default
    computed, geometry = contacts_from_geometry(sc)
    lines = describe_contacts(computed, geometry, overridden=False)
    assert lines[0].startswith("world moonlight_constellation.toml: 4 navigation nodes (AFS PRN 1, 2, 3, 4)")
    first, second = plan.ground
    assert lines[1] == (f"contacts from geometry: ground sees relay-1 0.0-{first.end_s:.1f} s via "
                        f"{first.antenna}, {second.start_s:.1f}-600.0 s via {second.antenna}")
    rover_end = plan.users["rover"][0][1]
    assert lines[2:] == ["lander sees relay-1: never", f"rover sees relay-1: 0.0-{rover_end:.1f} s"]
    given = parse_scenario(MINIMAL + "[[contact]]\nstart_s = 10.0\nend_s = 20.0\n", "s.toml")
    kept, geometry = contacts_from_geometry(given)
    assert describe_contacts(kept, geometry, overridden=True)[1] == \
        "contacts from the scenario's [[contact]]: ground sees relay-1 10.0-20.0 s"
