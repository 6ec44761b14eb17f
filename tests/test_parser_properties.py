"""Property tests of the Python-side parsers (hypothesis): what a builder makes, its parser reads back
(parse(build(x)) == x), and hostile input raises only the parser's documented error, never IndexError,
struct.error, TypeError, AttributeError, OverflowError or UnicodeDecodeError.

The number of examples per property is moderate (``LUNARELAY_FUZZ_EXAMPLES`` raises it for a long run:
``LUNARELAY_FUZZ_EXAMPLES=20000 pytest tests/test_parser_properties.py``).  Every input a property once
failed on stays as an ``@example``.
"""

from __future__ import annotations

import json
import math
import string
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from lunarelay_tools.inspect import timecode as tc
from onboard.bus import packet as bus
from onboard.bus.registry import RegistryError, parse_registry
from onboard.ccsds.sdls import Sdls, SdlsConfigError, SecurityAssociation, parse_key_file
from onboard.commands import CommandRejected, DictionaryError, default_dictionary, parse_dictionary
from onboard.links import sigmf
from onboard.nav import lsis_formats as lsis
from onboard.scenario import ScenarioError, parse_scenario

KEY = bytes(range(16))


# ----- bus packets (onboard.bus.packet) -----------------------------------------------------------


@given(
    apid=st.integers(0, bus.MAX_APID),
    data=st.binary(max_size=300),
    seq=st.integers(0, bus.MAX_SEQ),
    ticks=st.integers(0, (1 << 48) - 1),
    tc_type=st.booleans(),
)
def test_bus_packet_unpacks_to_what_was_packed(apid, data, seq, ticks, tc_type):
    t = ticks / 65536.0  # the CUC fine field's resolution
    kind = bus.PacketType.TC if tc_type else bus.PacketType.TM
    got = bus.unpack(bus.pack(apid, data, seq, t, kind))
    assert got == (apid, kind, seq, t, data)


@given(st.binary(max_size=64))
@example(bytes.fromhex("08010000ffff"))
def test_bus_unpack_of_any_octets_raises_only_packet_error(buf):
    try:
        pkt = bus.unpack(buf)
    except bus.PacketError:
        return
    assert bus.pack(pkt.apid, pkt.data, pkt.seq_count, pkt.time_tai, pkt.packet_type)[2:] == buf[2:]


@given(time_tai=st.floats(allow_nan=True, allow_infinity=True))
@example(float("inf"))
@example(-0.5)
def test_bus_pack_refuses_a_time_outside_the_cuc_range_with_value_error(time_tai):
    try:
        raw = bus.pack(0x10, b"x", 0, time_tai)
    except ValueError:
        assert not 0 <= time_tai < 2**32
        return
    assert 0 <= time_tai < 2**32 and bus.unpack(raw).time_tai == math.floor(time_tai * 65536) / 65536


# ----- CCSDS time codes (lunarelay_tools.inspect.timecode) --------------------------------------------------


@given(coarse=st.integers(1, 7), fine=st.integers(0, 7), agency=st.booleans(), data=st.data())
def test_cuc_decodes_to_the_encoded_time(coarse, fine, agency, data):
    layout = tc.Cuc(coarse, fine, agency)
    ticks = data.draw(st.integers(0, (1 << (8 * (coarse + fine))) - 1))
    t = Fraction(ticks, 1 << (8 * fine))
    got, read = tc.decode(layout.encode(t, with_pfield=True))
    assert (got, read) == (t, layout)


@given(
    day_octets=st.sampled_from([2, 3]), sub=st.sampled_from([0, 2, 4]), agency=st.booleans(), data=st.data()
)
def test_cds_decodes_to_the_encoded_time(day_octets, sub, agency, data):
    layout = tc.Cds(day_octets, sub, agency)
    day = data.draw(st.integers(0, (1 << (8 * day_octets)) - 1))
    ms = data.draw(st.integers(0, 86_399_999))
    sub_units = data.draw(st.integers(0, {0: 0, 2: 999, 4: 999_999_999}[sub]))
    t = day * 86400 + Fraction(ms, 1000) + Fraction(sub_units, {0: 1, 2: 1_000_000, 4: 10**12}[sub])
    got, read = tc.decode(layout.encode(t, with_pfield=True))
    assert (got, read) == (t, layout)


@given(st.binary(max_size=16))
def test_time_code_decode_of_any_octets_raises_only_time_code_error(buf):
    try:
        t, _ = tc.decode(buf)
    except tc.TimeCodeError:
        return
    assert t >= 0


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**70), 2**70))
@example(float("inf"))
@example(float("nan"))
def test_time_code_encode_of_any_time_raises_only_time_code_error(t):
    for layout in (tc.Cuc(4, 2), tc.Cds(2, 4)):
        try:
            layout.encode(t)
        except tc.TimeCodeError:
            pass


# ----- SDLS security header and trailer (onboard.ccsds.sdls) --------------------------------------


@st.composite
def security_associations(draw):
    return SecurityAssociation(
        spi=draw(st.integers(0, 0xFFFF)),
        key_id=1,
        iv_length=draw(st.integers(8, 16)),
        arsn_length=draw(st.integers(0, 8)),
        arsn_window=draw(st.integers(1, 100)),
        mac_length=draw(st.sampled_from([4, 8, 12, 13, 14, 15, 16])),
        auth_mask=draw(st.none() | st.binary(min_size=1, max_size=8)),
    )


def sdls_pair(sa: SecurityAssociation) -> tuple[Sdls, Sdls]:
    from onboard.ccsds.sdls import Key

    keys = {1: Key(1, KEY, True)}
    return Sdls(keys, {sa.spi: sa}), Sdls(
        keys,
        {
            sa.spi: SecurityAssociation(
                **{
                    f: getattr(sa, f)
                    for f in (
                        "spi",
                        "key_id",
                        "iv_length",
                        "arsn_length",
                        "arsn_window",
                        "mac_length",
                        "auth_mask",
                    )
                }
            )
        },
    )


@given(
    sa=security_associations(),
    header=st.binary(min_size=5, max_size=5),
    frames=st.lists(st.binary(max_size=64), min_size=1, max_size=4),
)
def test_sdls_verifies_what_it_protected_and_returns_the_frame_data(sa, header, frames):
    sender, receiver = sdls_pair(sa)
    for data in frames:
        result = receiver.process(header, sender.apply(sa.spi, header, data))
        assert result.ok and result.data == data and result.spi == sa.spi


@given(
    sa=security_associations(),
    header=st.binary(min_size=5, max_size=5),
    data=st.binary(max_size=64),
    flip=st.integers(0, 10_000),
)
def test_sdls_refuses_a_protected_frame_with_any_bit_flipped(sa, header, data, flip):
    sender, receiver = sdls_pair(sa)
    protected = bytearray(sender.apply(sa.spi, header, data))
    protected[flip // 8 % len(protected)] ^= 1 << (flip % 8)
    result = receiver.process(header, bytes(protected))
    assert not result.ok and result.data == b""


@given(sa=security_associations(), header=st.binary(max_size=8), protected=st.binary(max_size=100))
def test_sdls_process_of_any_octets_returns_a_verdict_and_never_raises(sa, header, protected):
    _, receiver = sdls_pair(sa)
    result = receiver.process(header, protected)
    assert result.ok == (result.status.value == "ok")


# ----- LSIS-AFS exchange files (onboard.nav.lsis_formats) ------------------------------------


@given(
    symbols=st.lists(st.integers(0, 1), max_size=7000),
    prn=st.integers(0, 2**32 - 1),
    timestamp=st.integers(-(2**63), 2**63 - 1),
)
def test_lsis_frame_file_reads_back_what_was_written(tmp_path, symbols, prn, timestamp):
    path = tmp_path / "frame.bin"
    lsis.write_frame_bin(path, np.array(symbols, np.uint8), prn, timestamp)
    got = lsis.read_frame_bin(path)
    assert (got.prn, got.timestamp, got.symbols.tolist()) == (prn, timestamp, symbols)


@given(st.binary(max_size=200) | st.builds(lambda b: lsis.FRAME_MAGIC + b, st.binary(max_size=200)))
def test_lsis_frame_file_of_any_octets_raises_only_format_error(tmp_path, raw):
    path = tmp_path / "frame.bin"
    path.write_bytes(raw)
    try:
        lsis.read_frame_bin(path)
    except lsis.FormatError:
        pass


@given(rate=st.floats(1.0, 1e9), prn=st.integers(1, 210), n=st.integers(0, 64))
def test_lsis_iq_file_reads_back_what_was_written(tmp_path, rate, prn, n):
    path = tmp_path / "sig.iq"
    x = (np.arange(n) * (1 + 2j)).astype(np.complex64)
    lsis.write_iq(path, x, rate, prn)
    header, samples = lsis.read_iq(path)
    assert (header.sample_rate_hz, header.duration_s, header.prn) == (rate, n / rate, prn)
    assert samples.tolist() == x.tolist()


@given(
    rate=st.floats(allow_nan=True, allow_infinity=True),
    duration=st.floats(allow_nan=True, allow_infinity=True),
    tail=st.binary(max_size=40),
)
@example(rate=float("inf"), duration=1.0, tail=b"")
@example(rate=1e6, duration=float("nan"), tail=b"")
def test_lsis_iq_header_of_any_values_raises_only_format_error(tmp_path, rate, duration, tail):
    path = tmp_path / "sig.iq"
    import struct

    path.write_bytes(lsis.IQ_HEADER.pack(lsis.IQ_MAGIC, 1, rate, duration, 1, b"float32") + tail)
    try:
        header, _ = lsis.read_iq(path)
    except lsis.FormatError:
        return
    assert math.isfinite(header.sample_rate_hz) and header.sample_rate_hz > 0
    assert math.isfinite(header.duration_s) and header.duration_s >= 0
    assert struct  # the header packed above


@given(st.binary(max_size=300))
@example(b"[GOLD_CODE]\nhex: \xff\n")
@example(b"[GOLD_CODE]\nlength: -4\nhex: \n")
def test_lsis_code_file_of_any_octets_raises_only_format_error(tmp_path, raw):
    path = tmp_path / "codes.hex"
    path.write_bytes(raw)
    try:
        sections = lsis.read_codes_hex(path)
    except lsis.FormatError:
        return
    assert all(set(np.unique(c)) <= {0, 1} for c in sections.values())


# ----- SigMF metadata (onboard.links.sigmf) -------------------------------------------------------

truths = st.builds(
    sigmf.ChannelTruth,
    signal=st.sampled_from(["gps-l1ca", "afs-i", "afs-q"]),
    prn=st.integers(1, 210),
    doppler_hz=st.floats(-1e5, 1e5),
    cn0_dbhz=st.floats(0, 100),
    code_phase_chips=st.floats(0, 10230),
    code_rate_cps=st.floats(1e5, 1e7),
    carrier_frequency_hz=st.floats(1e9, 3e9),
    doppler_rate_hz_s=st.floats(-1e3, 1e3),
    component=st.sampled_from(["I", "Q"]),
)


@given(channels=st.lists(truths, max_size=6))
def test_sigmf_truths_read_back_as_written(tmp_path, channels):
    with sigmf.SigmfWriter(tmp_path / "rec", "ci16", 4e6, truths=channels) as writer:
        writer.write(np.zeros((10, 2), np.int16))
    assert sigmf.read_truths(tmp_path / "rec") == channels


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@given(
    st.one_of(
        json_values,
        st.builds(lambda anns: {"annotations": anns}, json_values),
        st.builds(
            lambda fields: {"annotations": [{f"lunarelay:{k}": v for k, v in fields.items()}]},
            st.dictionaries(
                st.sampled_from(
                    [
                        "signal",
                        "prn",
                        "doppler_hz",
                        "cn0_dbhz",
                        "component",
                        "code_phase_chips",
                        "code_rate_cps",
                        "other",
                    ]
                ),
                json_values,
                max_size=8,
            ),
        ),
    )
)
@example([1, 2])
@example({"annotations": [{"lunarelay:signal": "gps-l1ca"}]})
@example({"annotations": 5})
def test_sigmf_metadata_of_any_json_raises_only_sigmf_error(tmp_path, meta):
    (tmp_path / "rec.sigmf-meta").write_text(json.dumps(meta))
    try:
        got = sigmf.read_truths(tmp_path / "rec")
    except sigmf.SigmfError:
        return
    assert all(isinstance(t.prn, int) and isinstance(t.signal, str) for t in got)


@given(st.binary(max_size=100))
@example(b"\x80")
def test_sigmf_metadata_of_any_octets_raises_only_sigmf_error(tmp_path, raw):
    (tmp_path / "rec.sigmf-meta").write_bytes(raw)
    try:
        sigmf.read_truths(tmp_path / "rec")
    except sigmf.SigmfError:
        pass


# ----- TOML: scenarios, the command dictionary, the registry, SDLS key files ----------------------


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_text(doc: dict) -> str:
    """A TOML document whose top-level tables are headers and whose deeper values are inline."""
    lines = []
    for key, value in doc.items():
        if isinstance(value, dict):
            lines.append(f"[{json.dumps(key)}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for table in value:
                lines.append(f"[[{json.dumps(key)}]]")
                lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
        else:
            lines.insert(0, f"{json.dumps(key)} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def toml_documents(field_names: list[str], table_names: list[str]):
    """Documents built from the real field and table names (and some others), any value anywhere."""
    names = st.sampled_from(field_names) | st.text(string.ascii_lowercase + "_", min_size=1, max_size=8)
    scalars = (
        st.integers(-(2**70), 2**70)
        | st.floats()
        | st.booleans()
        | st.text(max_size=12)
        | st.sampled_from(["none", "1/2", "ci16", "gps-l1ca", "lnav", "active", "u8", "str", "NOOP"])
    )
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=4),
        max_leaves=12,
    )
    tables = st.dictionaries(names, values, max_size=8)
    tops = st.dictionaries(
        st.sampled_from(table_names) | names,
        tables | st.lists(tables, min_size=1, max_size=3) | values,
        max_size=7,
    )
    return tops.map(toml_text)


SCENARIO_FIELDS = [
    "name",
    "description",
    "duration_s",
    "time_scale",
    "scid",
    "frame_length",
    "afs_prn",
    "orbit",
    "clock",
    "epoch_wn",
    "epoch_tow_s",
    "a_km",
    "e",
    "i_deg",
    "raan_deg",
    "argp_deg",
    "m0_deg",
    "bias_s",
    "drift_s_s",
    "apid",
    "packet_length",
    "packets_per_s",
    "start_s",
    "end_s",
    "frame_rate_hz",
    "rs_interleave",
    "conv",
    "randomize",
    "fs_hz",
    "format",
    "channel",
    "signal",
    "prn",
    "doppler_hz",
    "cn0_dbhz",
    "nav_data",
    "receiver",
    "llh",
]
SCENARIO_TABLES = [
    "scenario",
    "relay",
    "surface_user",
    "ground_station",
    "contact",
    "downlink",
    "uplink",
    "siggen",
]


@given(toml_documents(SCENARIO_FIELDS, SCENARIO_TABLES) | st.text(max_size=200))
@example('[relay]\nname = "r"\n')
@example(
    '[scenario]\nname = "x"\nduration_s = 1.0\n[[relay]]\nname = "r"\nscid = 1\nframe_length = 1115\n'
    'orbit = 5\n[ground_station]\nname = "g"\n'
)
def test_scenario_of_any_toml_raises_only_scenario_error(text):
    try:
        parse_scenario(text, "fuzz.toml")
    except ScenarioError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("fuzz.toml")


@given(
    field=st.sampled_from(
        [
            "duration_s",
            "time_scale",
            "scid",
            "start_wn",
            "start_tow_s",
            "apid",
            "packets_per_s",
            "frame_rate_hz",
            "rs_interleave",
            "conv",
            "randomize",
            "name",
        ]
    ),
    value=st.integers(-(2**70), 2**70)
    | st.floats()
    | st.booleans()
    | st.text(max_size=8)
    | st.lists(st.integers(), max_size=2),
)
def test_default_scenario_with_any_one_value_changed_loads_or_names_that_field(field, value):
    from importlib.resources import files

    text = (files("onboard.scenarios") / "default.toml").read_text()
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split("=")[0].strip() == field)
    lines[at] = f"{field} = {toml_value(value)}"
    try:
        parse_scenario("\n".join(lines) + "\n", "default.toml")
    except ScenarioError as exc:
        assert str(exc).startswith("default.toml:")


DICTIONARY_FIELDS = ["name", "opcode", "module", "description", "args", "type", "min", "max", "length"]


@given(toml_documents(DICTIONARY_FIELDS, ["common", "command"]) | st.text(max_size=200))
@example("common = 5\n")
@example('[common]\nname = "X"\n')
@example('[[command]]\nmodule = "store"\nname = "X"\nopcode = 20\n'
         'args = [{ name = "a", type = "u8", min = "x" }]\n')
def test_dictionary_of_any_toml_raises_only_dictionary_error(text):
    try:
        d = parse_dictionary(text, "fuzz.toml", {"store", "executive"})
    except DictionaryError as exc:
        assert "\n" not in str(exc)
        return
    for module in ("store", "executive"):
        for cmd in d.commands(module).values():
            for arg in cmd.args:
                try:
                    arg.check(0, cmd.name)
                except CommandRejected:
                    pass


@given(
    module=st.sampled_from(["store", "executive", "uplink", "flight_computer", "downlink"]),
    data=st.binary(max_size=40),
)
def test_dictionary_decode_of_any_command_octets_raises_only_command_rejected(module, data):
    d = default_dictionary()
    try:
        cmd, args = d.decode(module, data)
    except CommandRejected:
        return
    assert d.encode(module, cmd.name, **args) == data or any(a.type == "str" for a in cmd.args)


@given(data=st.data())
def test_dictionary_decodes_every_command_to_the_arguments_encoded(data):
    d = default_dictionary()
    module = data.draw(st.sampled_from(sorted(d.modules)))
    cmd = data.draw(st.sampled_from(sorted(d.commands(module).values(), key=lambda c: c.opcode)))
    args = {}
    for a in cmd.args:
        if a.type == "str":
            args[a.name] = data.draw(st.text(string.ascii_letters, max_size=a.length))
        elif a.type == "bool":
            args[a.name] = data.draw(st.booleans())
        elif a.type.startswith("f"):
            lo = a.min if a.min is not None else -1e30
            hi = a.max if a.max is not None else 1e30
            args[a.name] = (
                float(np.float32(data.draw(st.floats(lo, hi))))
                if a.type == "f32"
                else data.draw(st.floats(lo, hi))
            )
            args[a.name] = min(max(args[a.name], lo), hi)
        else:
            from onboard.commands import _INT_RANGE

            lo, hi = _INT_RANGE[a.type]
            lo, hi = (
                max(lo, int(a.min if a.min is not None else lo)),
                min(hi, int(a.max if a.max is not None else hi)),
            )
            args[a.name] = data.draw(st.integers(lo, hi))
    got_cmd, got = d.decode(module, d.encode(module, cmd.name, **args))
    assert got_cmd == cmd and got == args


@given(
    toml_documents(["name", "apid", "source", "description"], ["module", "message"]) | st.text(max_size=200)
)
@example("module = 5\n")
@example('module = "abc"\n')
def test_registry_of_any_toml_raises_only_registry_error(text):
    try:
        parse_registry(text, "fuzz.toml")
    except RegistryError as exc:
        assert "\n" not in str(exc)


@given(
    toml_documents(
        [
            "id",
            "value",
            "state",
            "spi",
            "key_id",
            "iv_length",
            "arsn_length",
            "arsn_window",
            "mac_length",
            "auth_mask",
        ],
        ["key", "sa"],
    )
    | st.text(max_size=200)
)
@example('key = "abc"\n')
@example(
    '[[key]]\nid = 1\nvalue = "000102030405060708090a0b0c0d0e0f"\n[[sa]]\nspi = 1\nkey_id = 1\n'
    "auth_mask = 5\n"
)
def test_sdls_key_file_of_any_toml_raises_only_sdls_config_error(text):
    try:
        parse_key_file(text, "fuzz.toml")
    except SdlsConfigError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize("text", ["[[sa]]\nspi = 1\nkey_id = 1\niv_length = 7\n"])
def test_a_bad_key_file_names_file_line_and_field(text):
    keys = '[[key]]\nid = 1\nvalue = "000102030405060708090a0b0c0d0e0f"\n'
    with pytest.raises(SdlsConfigError, match=r"^k.toml:7: sa\[0\]\.iv_length: "):
        parse_key_file(keys + text, "k.toml")
