"""Contacts from geometry and the Moonlight-like constellation's coverage of the south pole."""

import math

import numpy as np
import pytest

from hil.world import contacts, frames
from hil.world.constellation import DEFAULT_CONSTELLATION, load_constellation
from hil.world.ephemeris import de421
from onboard.nav.gps_ephemeris import elevation_azimuth, llh_to_ecef
from onboard.scenario import ScenarioError

DAY = 86400.0


@pytest.fixture(scope="module")
def moonlight():
    return load_constellation()


def test_the_constellation_file_holds_four_24h_nodes_a_relay_two_users_and_three_stations(moonlight):
    assert [n.afs_prn for n in moonlight.nodes] == [1, 2, 3, 4]
    for node in moonlight.nodes:
        assert node.elements.period_s == pytest.approx(DAY, rel=1e-3)
        assert math.degrees(node.elements.argp_rad) == 90.0  # apolune over the south
    assert len(moonlight.relays) == 1
    assert [u.name for u in moonlight.surface_users] == ["lander", "rover"]
    assert [s.name for s in moonlight.ground_stations] == ["New Norcia", "Cebreros", "Malargue"]


def test_node_cn0_follows_the_link_budget(moonlight):
    """EIRP 24 dBW, 10000 km at 2492.028 MHz (free-space loss 180.38 dB), T = 300 K: 47.45 dB-Hz."""
    cn0 = moonlight.antenna.cn0_dbhz(10_000e3, 0.0, 2492.028e6)
    assert cn0 == pytest.approx(24.0 - 180.38 + 228.60 - 24.77, abs=0.02)
    assert moonlight.antenna.cn0_dbhz(10_000e3, 30.0, 2492.028e6) == pytest.approx(cn0 - 3.0)


def test_earth_rotation_angle_at_j2000():
    j2000_gps_s = (2451545.0 - 2444244.5) * DAY + contacts.LEAP_SECONDS_GPS_UTC
    era_deg = math.degrees(contacts.earth_rotation_angle(j2000_gps_s))
    assert era_deg == pytest.approx(280.46061837504, abs=1e-8)


def test_the_moon_in_the_way_blocks_a_contact():
    moon = np.array([0.0, 0.0, 384e6])
    station = np.zeros(3)
    assert contacts.moon_blocks(station, moon + np.array([0.0, 0.0, 5e6]), moon)  # behind the Moon
    assert not contacts.moon_blocks(station, moon + np.array([3e6, 0.0, 0.0]), moon)  # beside it
    assert not contacts.moon_blocks(station, moon + np.array([0.0, 0.0, -3e6]), moon)  # in front


def test_windows_edges_are_found_within_the_tolerance():
    got = contacts.windows(lambda t: math.sin(2 * math.pi * t / 1000.0) > 0, 0.0, 2600.0, step_s=37.0,
                           tolerance_s=0.5)
    want = [(0.0, 500.0), (1000.0, 1500.0), (2000.0, 2500.0)]
    assert len(got) == 3
    for (a, b), (wa, wb) in zip(got, want, strict=True):
        assert a == pytest.approx(wa, abs=0.5) and b == pytest.approx(wb, abs=0.5)


def test_ground_contacts_open_only_with_the_relay_above_the_mask_and_clear_of_the_moon(moonlight):
    start = moonlight.epoch_s
    found = contacts.ground_contacts(moonlight, start, DAY, step_s=120.0)
    assert found and all(w.b == "relay-1" for w in found)
    assert {w.a for w in found} == {"New Norcia", "Cebreros", "Malargue"}
    orbit = moonlight.truth_orbit(moonlight.relays[0].elements, start + DAY)
    stations = {s.name: s for s in moonlight.ground_stations}
    for w in found:
        station = stations[w.a]
        rx = llh_to_ecef(station.lat_deg, station.lon_deg, station.height_m)
        for t in start + np.linspace(w.start_s + 2, w.end_s - 2, 5):
            sat = contacts.relay_ecef_m(orbit.state(t)[0], t)
            assert math.degrees(float(elevation_azimuth(rx, sat)[0])) >= station.elevation_mask_deg
            assert not contacts.moon_blocks(np.asarray(rx), sat, contacts.relay_ecef_m(np.zeros(3), t))
    # between a station's windows the relay is below its mask or behind the Moon, and that
    # happens: the Moon hides a relay in a 7.5 h orbit for part of every pass
    blocked = 0
    for t in start + np.arange(0.0, DAY, 600.0):
        r = orbit.state(t)[0]
        for station in moonlight.ground_stations:
            inside = any(w.a == station.name and w.start_s <= t - start <= w.end_s for w in found)
            if contacts.station_sees(station, r, t) != inside:
                pytest.fail(f"{station.name} at {t - start:.0f} s: sees {not inside} outside the windows")
            rx = llh_to_ecef(station.lat_deg, station.lon_deg, station.height_m)
            sat = contacts.relay_ecef_m(r, t)
            above = math.degrees(float(elevation_azimuth(rx, sat)[0])) >= station.elevation_mask_deg
            blocked += above and not inside
    assert blocked > 0


def test_surface_contacts_follow_the_local_elevation_mask(moonlight):
    start = moonlight.epoch_s
    found = contacts.surface_contacts(moonlight, start, DAY / 2, step_s=120.0)
    assert {w.a for w in found} <= {"lander", "rover"} and found
    lander = moonlight.surface_users[0]
    zenith = frames.moon_fixed_rotation(start, "me").T @ (frames.llh_to_fixed(-89.66, 129.2) * 3)
    assert contacts.user_sees(lander, zenith, start)
    assert not contacts.user_sees(lander, -zenith, start)


def test_the_south_pole_lander_always_sees_two_nodes_and_four_for_more_than_half_the_day(moonlight):
    lander = moonlight.surface_users[0]
    counts = contacts.nodes_in_view(moonlight, lander, moonlight.epoch_s + np.arange(0.0, DAY, 600.0))
    assert np.all(counts >= 2)
    assert np.mean(counts >= 4) > 0.5


def test_the_phasing_gives_the_south_pole_pdop_under_10_for_over_40_percent_of_the_day(moonlight):
    """10 m (3D) from about 1 m of range error per node (the broadcast ephemeris' SISE of up to
    0.7 m and the receiver's noise, tests/test_receiver_closed_loop.py) needs PDOP under 10.  Four
    nodes of these orbits are all in view only while neither pair is near perilune (56 % of the
    day); the former phasing (10 deg apart in mean anomaly) had them in view longer, but at one
    elevation at apolune, where the vertical and the clock cannot be told apart."""
    from lunarelay_tools.bench.geometry import bunched

    lander = moonlight.surface_users[0]
    times = moonlight.epoch_s + np.arange(0.0, DAY, 300.0)
    counts, pdop = contacts.site_pdop(moonlight, lander, times)
    usable = (counts >= 4) & (pdop < 10.0)
    assert usable.mean() > 0.40
    assert np.median(pdop[counts >= 4]) < 5.0
    before_counts, before_pdop = contacts.site_pdop(bunched(moonlight), lander, times)
    assert np.mean((before_counts >= 4) & (before_pdop < 10.0)) < 0.15
    # siggen's default start (12 h after the epoch) and the closed loop's: four nodes, PDOP near 3
    noon = contacts.site_pdop(moonlight, lander, [moonlight.epoch_s + 43200.0])
    assert noon[0][0] == 4 and noon[1][0] < 4.0


def test_pdop_is_that_of_the_least_squares_geometry(moonlight):
    """Against a direct computation at one instant: G from the unit vectors to the nodes in view."""
    lander = moonlight.surface_users[0]
    t = moonlight.epoch_s + 43200.0
    here = frames.moon_fixed_rotation(t, "me").T @ frames.llh_to_fixed(lander.lat_deg, lander.lon_deg,
                                                                       lander.height_m)
    rows = []
    for node in moonlight.nodes:
        r = moonlight.truth_orbit(node.elements, t).state(t)[0]
        if contacts.user_sees(lander, r, t):
            u = (r - here) / np.linalg.norm(r - here)
            rows.append([*(-u), 1.0])
    g = np.array(rows)
    want = math.sqrt(np.trace(np.linalg.inv(g.T @ g)[:3, :3]))
    counts, pdop = contacts.site_pdop(moonlight, lander, [t])
    assert counts[0] == len(rows) == 4 and pdop[0] == pytest.approx(want, rel=1e-9)


def test_constellation_files_with_errors_name_the_field(tmp_path):
    text = DEFAULT_CONSTELLATION.read_text()
    bad = tmp_path / "c.toml"
    bad.write_text(text.replace("afs_prn = 2", "afs_prn = 1"))
    with pytest.raises(ScenarioError, match="PRNs .* repeat"):
        load_constellation(bad)
    bad.write_text(text.replace("a_km = 9750.7, e = 0.6, i_deg = 56.2, raan_deg = 0.0",
                                "a_km = 2000.0, e = 0.6, i_deg = 56.2, raan_deg = 0.0"))
    with pytest.raises(ScenarioError, match=r"node\[0\].elements: perilune radius"):
        load_constellation(bad)
    bad.write_text(text.replace("[antenna]", "[antena]"))
    with pytest.raises(ScenarioError, match=r"antenna: missing table"):
        load_constellation(bad)


def test_relay_ecef_puts_the_moon_at_its_distance_from_the_earth():
    t = load_constellation().epoch_s
    moon = contacts.relay_ecef_m(np.zeros(3), t)
    assert np.linalg.norm(moon) == pytest.approx(np.linalg.norm(de421().earth_from_moon_m(t)))
