"""GPS L1 C/A LNAV navigation message (IS-GPS-200 §20.3): subframes, words and parity.

A subframe is 300 bits, ten 30-bit words of 24 data bits and 6 parity bits, sent at
50 bps in 6 s; five subframes make a 30 s frame, and subframe 1 of a frame starts at a
whole multiple of 30 s of GPS time (§20.3.2).  Word 1 is the TLM word (§20.3.3.1), word 2
the handover word, HOW (§20.3.3.2).  Subframe 1 carries the clock (§20.3.3.3, Table
20-I), subframes 2 and 3 the ephemeris (§20.3.3.4, Table 20-III), subframes 4 and 5
pages of almanac, health, ionosphere and UTC data (§20.3.3.5), one page per frame in a
25-frame cycle.

Inside a subframe every field lies on consecutive data bits once the parity bits are
taken out, so a layout here gives each field's first data bit (1..240: bit k of word w
is data bit 24*(w-1)+k), its width, whether it is two's complement, and its scale
factor.  :func:`encode_subframe` turns fields into a 300-bit subframe with parity;
:func:`decode_subframe` checks parity and gives the fields back.  Values are in the
message's own units except angles, which are radians here (semicircles on the wire,
times :data:`GPS_PI`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from onboard.errors import LunarelayError
from onboard.nav import bitfields

GPS_PI = 3.1415926535898  # IS-GPS-200 §20.3.3.4.3: the value users shall use for pi
PREAMBLE = 0b10001011  # §20.3.3.1
WORD_BITS = 30
SUBFRAME_BITS = 300
SUBFRAME_S = 6
FRAME_S = 30
PAGES = 25
TOW_COUNTS_PER_WEEK = 100800  # 6 s counts: 604800 / 6 (§20.3.3.2)
DATA_ID = 0b01  # §20.3.3.5.1.1: data ID of the LNAV message
DUMMY_SV_ID = 0  # SV ID 0: the dummy SV, a page with no data
SF4_PAGE18_SV_ID = 56  # ionosphere and UTC page (§20.3.3.5.1.6, .7)
SF5_PAGE25_SV_ID = 51  # health of SV 1..24, t_oa and WN_a (§20.3.3.5.1.3)

# IS-GPS-200 Table 20-XIV: the source data bits d1..d24 each parity bit D25..D30 sums,
# and which of D29*, D30* (last two bits of the previous word) it also takes.
_PARITY_TERMS = (
    (29, (1, 2, 3, 5, 6, 10, 11, 12, 13, 14, 17, 18, 20, 23)),
    (30, (2, 3, 4, 6, 7, 11, 12, 13, 14, 15, 18, 19, 21, 24)),
    (29, (1, 3, 4, 5, 7, 8, 12, 13, 14, 15, 16, 19, 20, 22)),
    (30, (2, 4, 5, 6, 8, 9, 13, 14, 15, 16, 17, 20, 21, 23)),
    (30, (1, 3, 5, 6, 7, 9, 10, 14, 15, 16, 17, 18, 21, 22, 24)),
    (29, (3, 5, 6, 8, 9, 10, 11, 13, 15, 19, 22, 23, 24)),
)
_PARITY_MASKS = tuple((star, sum(1 << (24 - i) for i in bits)) for star, bits in _PARITY_TERMS)


class LnavError(LunarelayError, ValueError):
    """A field out of range, a parity failure, or a subframe that is not LNAV."""


def parity_bits(data24: int, d29_star: int, d30_star: int) -> int:
    """D25..D30 of a word with source data bits ``data24`` (d1 the MSB), IS-GPS-200 Table 20-XIV."""
    out = 0
    for star, mask in _PARITY_MASKS:
        bit = (d29_star if star == 29 else d30_star) ^ (bin(data24 & mask).count("1") & 1)
        out = (out << 1) | bit
    return out


def encode_word(data24: int, previous_word: int) -> int:
    """The transmitted 30-bit word: d1..d24 inverted when D30* = 1, then the parity (§20.3.5.2)."""
    d29_star, d30_star = (previous_word >> 1) & 1, previous_word & 1
    sent = data24 ^ 0xFFFFFF if d30_star else data24
    return (sent << 6) | parity_bits(data24, d29_star, d30_star)


def solve_last_bits(data24: int, previous_word: int) -> int:
    """``data24`` with bits 23 and 24 chosen so that the word's D29 and D30 are 0.

    IS-GPS-200 §20.3.5.2: words 2 and 10 end with two non-information bits solved this
    way, so the next word (word 3, or the next subframe's TLM) starts uninverted.
    """
    base = data24 & ~0b11
    for t in range(4):
        if encode_word(base | t, previous_word) & 0b11 == 0:
            return base | t
    raise AssertionError("bits 23-24 always have a solution")  # D29 depends on d24, D30 on d23


def decode_word(word30: int, previous_word: int) -> tuple[int, bool]:
    """(source data d1..d24, parity good) of a received word, given the word before it."""
    d30_star = previous_word & 1
    data24 = (word30 >> 6) ^ (0xFFFFFF if d30_star else 0)
    good = parity_bits(data24, (previous_word >> 1) & 1, d30_star) == word30 & 0x3F
    return data24 & 0xFFFFFF, good


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    start: int  # first data bit, 1..240
    bits: int
    signed: bool = False
    scale: float = 1.0
    semicircles: bool = False  # radians in Python, semicircles on the wire


def _f(name, start, bits, signed=False, log2_scale=0, semicircles=False) -> Field:
    return Field(name, start, bits, signed, 2.0 ** log2_scale, semicircles)


# Word 1 (TLM, §20.3.3.1) and word 2 (HOW, §20.3.3.2) of every subframe.
HEADER = (
    _f("preamble", 1, 8), _f("tlm_message", 9, 14), _f("integrity_status_flag", 23, 1),
    _f("tlm_reserved", 24, 1),
    _f("tow_count", 25, 17), _f("alert_flag", 42, 1), _f("anti_spoof_flag", 43, 1),
    _f("subframe_id", 44, 3),
)
# Subframe 1, Figure 20-1 sheet 1 and Table 20-I.
SUBFRAME1 = (
    _f("week_number", 49, 10), _f("code_on_l2", 59, 2), _f("ura_index", 61, 4), _f("sv_health", 65, 6),
    _f("iodc_msb", 71, 2), _f("l2p_data_flag", 73, 1),
    _f("t_gd", 161, 8, True, -31), _f("iodc_lsb", 169, 8), _f("t_oc", 177, 16, False, 4),
    _f("a_f2", 193, 8, True, -55), _f("a_f1", 201, 16, True, -43), _f("a_f0", 217, 22, True, -31),
)
# Subframe 2, Figure 20-1 sheet 2 and Table 20-III.
SUBFRAME2 = (
    _f("iode", 49, 8), _f("c_rs", 57, 16, True, -5), _f("delta_n", 73, 16, True, -43, True),
    _f("m_0", 89, 32, True, -31, True), _f("c_uc", 121, 16, True, -29), _f("e", 137, 32, False, -33),
    _f("c_us", 169, 16, True, -29), _f("sqrt_a", 185, 32, False, -19), _f("t_oe", 217, 16, False, 4),
    _f("fit_interval_flag", 233, 1), _f("aodo", 234, 5),
)
# Subframe 3, Figure 20-1 sheet 3 and Table 20-III.
SUBFRAME3 = (
    _f("c_ic", 49, 16, True, -29), _f("omega_0", 65, 32, True, -31, True), _f("c_is", 97, 16, True, -29),
    _f("i_0", 113, 32, True, -31, True), _f("c_rc", 145, 16, True, -5), _f("omega", 161, 32, True, -31, True),
    _f("omega_dot", 193, 24, True, -43, True), _f("iode", 217, 8), _f("idot", 225, 14, True, -43, True),
)
PAGE_ID = (_f("data_id", 49, 2), _f("sv_id", 51, 6))
# Almanac page: subframe 5 pages 1-24, subframe 4 pages 2-5 and 7-10 (Figure 20-1 sheet 4,
# Table 20-VI); delta_i is relative to i0 = 0.30 semicircles (§20.3.3.5.2.1).
ALMANAC = PAGE_ID + (
    _f("e", 57, 16, False, -21), _f("t_oa", 73, 8, False, 12), _f("delta_i", 81, 16, True, -19, True),
    _f("omega_dot", 97, 16, True, -38, True), _f("sv_health", 113, 8), _f("sqrt_a", 121, 24, False, -11),
    _f("omega_0", 145, 24, True, -23, True), _f("omega", 169, 24, True, -23, True),
    _f("m_0", 193, 24, True, -23, True), _f("a_f0_msb", 217, 8), _f("a_f1", 225, 11, True, -38),
    _f("a_f0_lsb", 236, 3),
)
# Subframe 5 page 25 (Figure 20-1 sheet 5): t_oa, WN_a and 6-bit health of SV 1..24.
SF5_PAGE25 = PAGE_ID + (_f("t_oa", 57, 8, False, 12), _f("wn_a", 65, 8)) + tuple(
    _f(f"health_{sv}", 73 + 6 * (sv - 1), 6) for sv in range(1, 25))
# Subframe 4 page 18 (Figure 20-1 sheet 8, Tables 20-X and 20-IX): ionosphere and UTC.
SF4_PAGE18 = PAGE_ID + (
    _f("alpha_0", 57, 8, True, -30), _f("alpha_1", 65, 8, True, -27), _f("alpha_2", 73, 8, True, -24),
    _f("alpha_3", 81, 8, True, -24), _f("beta_0", 89, 8, True, 11), _f("beta_1", 97, 8, True, 14),
    _f("beta_2", 105, 8, True, 16), _f("beta_3", 113, 8, True, 16), _f("a_1", 121, 24, True, -50),
    _f("a_0", 145, 32, True, -30), _f("t_ot", 177, 8, False, 12), _f("wn_t", 185, 8),
    _f("delta_t_ls", 193, 8, True), _f("wn_lsf", 201, 8), _f("dn", 209, 8), _f("delta_t_lsf", 217, 8, True),
)
DUMMY = PAGE_ID


def _to_raw(field: Field, value: float) -> int:
    try:
        return bitfields.to_raw(field.name, value, field.bits, field.signed, field.scale,
                                GPS_PI if field.semicircles else None)
    except bitfields.FieldError as exc:
        raise LnavError(str(exc)) from None


def _from_raw(field: Field, raw: int) -> float | int:
    return bitfields.from_raw(raw, field.bits, field.signed, field.scale,
                              GPS_PI if field.semicircles else None)


def _pack(data: int, field: Field, value: float) -> int:
    shift = 240 - (field.start + field.bits - 1)
    return data | (_to_raw(field, value) << shift)


def _unpack(data: int, field: Field) -> float | int:
    shift = 240 - (field.start + field.bits - 1)
    return _from_raw(field, (data >> shift) & ((1 << field.bits) - 1))


def _dummy_fill(layout: tuple[Field, ...]) -> int:
    """Alternating ones and zeros in the data bits of words 3-10 a layout leaves unused."""
    used = 0
    for field in layout:
        used |= ((1 << field.bits) - 1) << (240 - (field.start + field.bits - 1))
    pattern = int("10" * 96, 2)  # data bits 49..240 (words 3..10)
    return pattern & ~used & ((1 << 192) - 1) & ~0b11


def encode_subframe(header: dict, layout: tuple[Field, ...], fields: dict, previous_word: int = 0,
                    fill_unused: bool = False) -> np.ndarray:
    """300 bits (uint8 0/1) of one subframe; ``previous_word`` is the word sent before it.

    Reserved bits are zero, or the alternating pattern of a dummy page when
    ``fill_unused``; bits 23-24 of words 2 and 10 are solved for D29 = D30 = 0.
    """
    data = _dummy_fill(HEADER + layout) if fill_unused else 0
    header = {"preamble": PREAMBLE, "tlm_message": 0, "integrity_status_flag": 0, "tlm_reserved": 0,
              "alert_flag": 0, "anti_spoof_flag": 0, **header}
    for field in HEADER:
        data = _pack(data, field, header[field.name])
    for field in layout:
        data = _pack(data, field, fields[field.name])
    words = []
    prev = previous_word
    for w in range(10):
        d = (data >> (24 * (9 - w))) & 0xFFFFFF
        if w in (1, 9):
            d = solve_last_bits(d, prev)
        prev = encode_word(d, prev)
        words.append(prev)
    return words_to_bits(words)


def words_to_bits(words: list[int]) -> np.ndarray:
    return np.array([(w >> (29 - i)) & 1 for w in words for i in range(30)], np.uint8)


def bits_to_words(bits: np.ndarray) -> list[int]:
    bits = np.asarray(bits, np.uint8)
    if bits.size % WORD_BITS:
        raise LnavError(f"{bits.size} bits is not a whole number of 30-bit words")
    return [int("".join(map(str, bits[i:i + 30])), 2) for i in range(0, bits.size, 30)]


def subframe_data(bits: np.ndarray, previous_word: int = 0) -> int:
    """The 240 source data bits of a subframe (as one integer) after a parity check of every word."""
    words = bits_to_words(bits)
    if len(words) != 10:
        raise LnavError(f"a subframe is 10 words, not {len(words)}")
    data, prev = 0, previous_word
    for i, word in enumerate(words):
        d, good = decode_word(word, prev)
        if not good:
            raise LnavError(f"word {i + 1}: parity check failed")
        data = (data << 24) | d
        prev = word
    return data


def layout_of(subframe_id: int, sv_id: int) -> tuple[Field, ...]:
    if subframe_id in (1, 2, 3):
        return (SUBFRAME1, SUBFRAME2, SUBFRAME3)[subframe_id - 1]
    if subframe_id == 4 and sv_id == SF4_PAGE18_SV_ID:
        return SF4_PAGE18
    if subframe_id == 5 and sv_id == SF5_PAGE25_SV_ID:
        return SF5_PAGE25
    almanac_svs = range(1, 25) if subframe_id == 5 else range(25, 33)
    if sv_id in almanac_svs:
        return ALMANAC
    return DUMMY


def decode_subframe(bits: np.ndarray, previous_word: int = 0) -> dict:
    """Fields of a received subframe (header, then the subframe's or page's fields)."""
    data = subframe_data(bits, previous_word)
    out = {field.name: _unpack(data, field) for field in HEADER}
    if out["preamble"] != PREAMBLE:
        raise LnavError(f"preamble {out['preamble']:#010b} is not {PREAMBLE:#010b}")
    sid = out["subframe_id"]
    if not 1 <= sid <= 5:
        raise LnavError(f"subframe ID {sid} is outside 1..5")
    sv_id = _unpack(data, PAGE_ID[1]) if sid in (4, 5) else -1
    for field in layout_of(sid, sv_id):
        out[field.name] = _unpack(data, field)
    return out


# ---------------------------------------------------------------------------- the broadcast data


@dataclasses.dataclass(frozen=True)
class Ephemeris:
    """One satellite's subframes 1-3: clock (Table 20-I) and ephemeris (Table 20-III).

    Units: seconds, metres, radians (and per second); ``sqrt_a`` in m^0.5; ``week_number``
    is the full GPS week (sent modulo 1024).
    """

    prn: int
    week_number: int
    t_oc: float
    a_f0: float
    a_f1: float
    a_f2: float
    t_gd: float
    iodc: int
    t_oe: float
    sqrt_a: float
    e: float
    m_0: float
    delta_n: float
    omega_0: float
    i_0: float
    omega: float
    omega_dot: float
    idot: float
    c_uc: float
    c_us: float
    c_rc: float
    c_rs: float
    c_ic: float
    c_is: float
    ura_index: int = 0
    sv_health: int = 0
    code_on_l2: int = 1
    l2p_data_flag: int = 0
    fit_interval_flag: int = 0
    aodo: int = 0

    @property
    def iode(self) -> int:
        return self.iodc & 0xFF  # §20.3.4.4: IODE equals the 8 LSBs of IODC

    def subframe_fields(self, subframe_id: int) -> dict:
        fields = dataclasses.asdict(self)
        fields.update(week_number=self.week_number % 1024, iodc_msb=self.iodc >> 8, iodc_lsb=self.iodc & 0xFF,
                      iode=self.iode,
                      **{k: math.remainder(fields[k], 2 * GPS_PI) for k in ("m_0", "omega_0", "omega")})
        return fields

    @classmethod
    def from_subframes(cls, prn: int, sf1: dict, sf2: dict, sf3: dict, week_number: int) -> Ephemeris:
        """The ephemeris in three decoded subframes; ``week_number`` resolves the 10-bit WN."""
        if sf2["iode"] != sf3["iode"] or sf2["iode"] != sf1["iodc_lsb"]:
            raise LnavError(f"PRN {prn}: IODE {sf2['iode']}/{sf3['iode']} and IODC LSBs {sf1['iodc_lsb']} "
                            "differ: subframes of different data sets")
        if week_number % 1024 != sf1["week_number"]:
            raise LnavError(f"PRN {prn}: week {week_number} does not end in the broadcast WN "
                            f"{sf1['week_number']}")
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in {**sf3, **sf2, **sf1}.items() if k in names}
        values.update(prn=prn, week_number=week_number, iodc=(sf1["iodc_msb"] << 8) | sf1["iodc_lsb"])
        return cls(**values)

    def quantized(self) -> Ephemeris:
        """This ephemeris as a receiver decodes it: every field at its broadcast resolution."""
        sfs = [decode_subframe(encode_subframe({"tow_count": 1, "subframe_id": i}, layout,
                                               self.subframe_fields(i)))
               for i, layout in ((1, SUBFRAME1), (2, SUBFRAME2), (3, SUBFRAME3))]
        return Ephemeris.from_subframes(self.prn, *sfs, week_number=self.week_number)


@dataclasses.dataclass(frozen=True)
class Almanac:
    """One satellite's almanac page (Table 20-VI), radians and seconds."""

    sv_id: int
    e: float
    t_oa: float
    delta_i: float
    omega_dot: float
    sqrt_a: float
    omega_0: float
    omega: float
    m_0: float
    a_f0: float
    a_f1: float
    sv_health: int = 0

    @classmethod
    def from_ephemeris(cls, eph: Ephemeris, t_oa: float) -> Almanac:
        return cls(eph.prn, eph.e, t_oa, eph.i_0 - 0.30 * GPS_PI, eph.omega_dot, eph.sqrt_a, eph.omega_0,
                   eph.omega, eph.m_0, eph.a_f0, eph.a_f1, eph.sv_health)

    def page_fields(self) -> dict:
        # a_f0 is 11 bits at 2^-20 s, sent as 8 MSBs and 3 LSBs.
        raw = round(self.a_f0 / 2.0 ** -20)
        if not -1024 <= raw <= 1023:
            raise LnavError(f"almanac a_f0 {self.a_f0} s does not fit 11 bits")
        raw &= 0x7FF
        m_0 = math.remainder(self.m_0, 2 * GPS_PI)
        return {"data_id": DATA_ID, "sv_id": self.sv_id, "e": self.e, "t_oa": self.t_oa,
                "delta_i": self.delta_i,
                "omega_dot": self.omega_dot, "sv_health": self.sv_health, "sqrt_a": self.sqrt_a,
                "omega_0": math.remainder(self.omega_0, 2 * GPS_PI),
                "omega": math.remainder(self.omega, 2 * GPS_PI),
                "m_0": m_0, "a_f0_msb": raw >> 3, "a_f1": self.a_f1, "a_f0_lsb": raw & 0b111}


@dataclasses.dataclass(frozen=True)
class IonoUtc:
    """Subframe 4 page 18: Klobuchar coefficients (§20.3.3.5.2.5) and UTC parameters (§20.3.3.5.2.4)."""

    alpha: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    beta: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    a_0: float = 0.0
    a_1: float = 0.0
    t_ot: float = 0.0
    wn_t: int = 0  # full week; sent modulo 256
    delta_t_ls: int = 18
    wn_lsf: int = 0  # full week; sent modulo 256
    dn: int = 7
    delta_t_lsf: int = 18

    def page_fields(self) -> dict:
        fields = {"data_id": DATA_ID, "sv_id": SF4_PAGE18_SV_ID, "a_0": self.a_0, "a_1": self.a_1,
                  "t_ot": self.t_ot, "wn_t": self.wn_t % 256, "delta_t_ls": self.delta_t_ls,
                  "wn_lsf": self.wn_lsf % 256, "dn": self.dn, "delta_t_lsf": self.delta_t_lsf}
        fields.update({f"alpha_{i}": v for i, v in enumerate(self.alpha)})
        fields.update({f"beta_{i}": v for i, v in enumerate(self.beta)})
        return fields


@dataclasses.dataclass(frozen=True)
class LnavSource:
    """What one satellite broadcasts: its ephemeris, and the almanac and UTC pages it shares."""

    ephemeris: Ephemeris
    almanac: tuple[Almanac, ...] = ()
    iono_utc: IonoUtc | None = None
    t_oa: float = 0.0
    wn_a: int = 0  # full week; sent modulo 256
    anti_spoof: bool = False

    def page_fields(self, subframe_id: int, page: int) -> tuple[tuple[Field, ...], dict, bool]:
        """(layout, fields, dummy) of subframe 4 or 5 in frame page ``page`` (1..25)."""
        by_sv = {a.sv_id: a for a in self.almanac}
        if subframe_id == 5 and page <= 24 or subframe_id == 4 and page in (2, 3, 4, 5, 7, 8, 9, 10):
            # Subframe 4 pages 2-5 and 7-10 hold SV 25-32 (§20.3.3.5.1.1, Table 20-V).
            sv = page if subframe_id == 5 else 25 + (2, 3, 4, 5, 7, 8, 9, 10).index(page)
            if sv in by_sv:
                return ALMANAC, by_sv[sv].page_fields(), False
        elif subframe_id == 5 and page == 25:
            fields = {"data_id": DATA_ID, "sv_id": SF5_PAGE25_SV_ID, "t_oa": self.t_oa,
                      "wn_a": self.wn_a % 256}
            fields.update({f"health_{sv}": (by_sv[sv].sv_health if sv in by_sv else 0b111111)
                           for sv in range(1, 25)})
            return SF5_PAGE25, fields, False
        elif subframe_id == 4 and page == 18 and self.iono_utc is not None:
            return SF4_PAGE18, self.iono_utc.page_fields(), False
        return DUMMY, {"data_id": DATA_ID, "sv_id": DUMMY_SV_ID}, True

    def subframe(self, index: int, previous_word: int = 0) -> np.ndarray:
        """The 300 bits of subframe ``index`` counted from the start of the week (it starts at 6*index s)."""
        subframe_id = index % 5 + 1
        header = {"tow_count": (index + 1) % TOW_COUNTS_PER_WEEK, "subframe_id": subframe_id,
                  "anti_spoof_flag": int(self.anti_spoof)}
        if subframe_id <= 3:
            layout = (SUBFRAME1, SUBFRAME2, SUBFRAME3)[subframe_id - 1]
            return encode_subframe(header, layout, self.ephemeris.subframe_fields(subframe_id), previous_word)
        page = (index // 5) % PAGES + 1
        layout, fields, dummy = self.page_fields(subframe_id, page)
        return encode_subframe(header, layout, fields, previous_word, fill_unused=dummy)

    def bits(self, first_subframe: int, n_subframes: int) -> np.ndarray:
        """Consecutive subframes as one bit stream, parity chained from word to word."""
        out, prev = [], 0
        for index in range(first_subframe, first_subframe + n_subframes):
            bits = self.subframe(index, prev)
            prev = bits_to_words(bits[-30:])[0]
            out.append(bits)
        return np.concatenate(out)


def how_tow_s(how_tow_count: int) -> float:
    """GPS seconds of week at the start of the NEXT subframe, from a HOW TOW count (§20.3.3.2)."""
    return 6.0 * how_tow_count
