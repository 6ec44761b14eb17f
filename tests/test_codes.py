"""Spreading codes against the published tables: IS-GPS-200 Table 3-Ia and LSIS-AFS V1.0 Annex 3."""

import csv
import re

import numpy as np
import pytest
from conftest import VECTORS

from onboard.core import CoreError, codes

LSIS = VECTORS / "lsis"


def hex_to_chips(hexstr: str, n_chips: int, pad_bits: int) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(hexstr if len(hexstr) % 2 == 0 else hexstr + "0"),
                                       dtype=np.uint8))
    return bits[pad_bits:pad_bits + n_chips]


def annex_codes(name: str, hex_digits: int, n_chips: int, pad_bits: int) -> list[np.ndarray]:
    """The 210 codes of an Annex 3 file: hex runs of exactly ``hex_digits`` digits, PRN order."""
    text = (LSIS / name).read_text()
    runs = re.findall(r"\b[0-9A-Fa-f]+\b", text)
    runs = [r for r in runs if len(r) == hex_digits]
    assert len(runs) == 210
    return [hex_to_chips(r, n_chips, pad_bits) for r in runs]


def params(name: str) -> list[dict]:
    with open(LSIS / name, newline="") as f:
        return list(csv.DictReader(f))


def chips_hex24(chips: np.ndarray) -> str:
    return f"{int(''.join(map(str, chips.tolist())), 2):06X}"


def gps_l1ca_by_phase_selector(prn: int) -> np.ndarray:
    """Independent construction: G2 output taken as the XOR of two G2 stages (the phase selector
    of IS-GPS-200 Table 3-Ia) instead of a delay."""
    taps = {1: (2, 6), 2: (3, 7), 3: (4, 8), 4: (5, 9), 5: (1, 9), 6: (2, 10), 7: (1, 8), 8: (2, 9),
            9: (3, 10), 10: (2, 3), 11: (3, 4), 12: (5, 6), 13: (6, 7), 14: (7, 8), 15: (8, 9),
            16: (9, 10), 17: (1, 4), 18: (2, 5), 19: (3, 6), 20: (4, 7), 21: (5, 8), 22: (6, 9),
            23: (1, 3), 24: (4, 6), 25: (5, 7), 26: (6, 8), 27: (7, 9), 28: (8, 10), 29: (1, 6),
            30: (2, 7), 31: (3, 8), 32: (4, 9), 33: (5, 10), 34: (4, 10), 35: (1, 7), 36: (2, 8),
            37: (4, 10)}[prn]
    g1 = [1] * 10
    g2 = [1] * 10
    out = []
    for _ in range(1023):
        out.append(g1[9] ^ g2[taps[0] - 1] ^ g2[taps[1] - 1])
        f1 = g1[2] ^ g1[9]
        f2 = g2[1] ^ g2[2] ^ g2[5] ^ g2[7] ^ g2[8] ^ g2[9]
        g1 = [f1] + g1[:9]
        g2 = [f2] + g2[:9]
    return np.array(out, dtype=np.uint8)


def test_gps_l1ca_first_10_chips_in_octal_match_is_gps_200_table_3_ia():
    octal = ["1440", "1620", "1710", "1744", "1133", "1455", "1131", "1454", "1626", "1504"]
    got = [f"{int(''.join(map(str, codes.gps_l1ca(prn)[:10].tolist())), 2):o}" for prn in range(1, 11)]
    assert got == octal


@pytest.mark.parametrize("prn", range(1, 38))
def test_gps_l1ca_delay_table_equals_phase_selector_construction(prn):
    np.testing.assert_array_equal(codes.gps_l1ca(prn), gps_l1ca_by_phase_selector(prn))


def test_gps_l1ca_autocorrelation_sidelobes_are_minus_65_minus_1_or_63():
    for prn in range(1, 33):
        x = 1.0 - 2.0 * codes.gps_l1ca(prn)
        corr = np.rint(np.fft.ifft(np.fft.fft(x) * np.conj(np.fft.fft(x))).real).astype(int)
        assert corr[0] == 1023
        assert set(corr[1:].tolist()) <= {-65, -1, 63}


def test_gps_l1ca_cross_correlation_is_three_valued():
    x = 1.0 - 2.0 * codes.gps_l1ca(3)
    y = 1.0 - 2.0 * codes.gps_l1ca(17)
    corr = np.rint(np.fft.ifft(np.fft.fft(x) * np.conj(np.fft.fft(y))).real).astype(int)
    assert set(corr.tolist()) <= {-65, -1, 63}


def test_afs_i_gold_codes_equal_annex_3_file_006_for_all_210_prns():
    annex = annex_codes("006_GoldCode2046hex210prns.txt", 512, 2046, 2)
    mismatched = [prn for prn in range(1, 211) if not np.array_equal(codes.afs_i(prn), annex[prn - 1])]
    assert mismatched == []


def test_afs_q_primary_weil_codes_equal_annex_3_file_007_for_all_210_prns():
    annex = annex_codes("007_l1cp_hex210prns.txt", 2558, 10230, 2)
    mismatched = [prn for prn in range(1, 211)
                  if not np.array_equal(codes.afs_q_primary(prn), annex[prn - 1])]
    assert mismatched == []


def test_afs_q_tertiary_weil_codes_equal_annex_3_file_008_for_all_210_prns():
    annex = annex_codes("008_Weil1500hex210prns.txt", 375, 1500, 0)
    mismatched = [prn for prn in range(1, 211)
                  if not np.array_equal(codes.afs_q_tertiary(prn), annex[prn - 1])]
    assert mismatched == []


@pytest.mark.parametrize("name, generate", [
    ("afs_i_gold_prn_params.csv", codes.afs_i),
    ("afs_q_primary_weil_prn_params.csv", codes.afs_q_primary),
    ("afs_q_tertiary_weil_prn_params.csv", codes.afs_q_tertiary),
])
def test_first_and_last_24_chips_match_lsis_parameter_tables(name, generate):
    for row in params(name):
        chips = generate(int(row["prn"]))
        assert (chips_hex24(chips[:24]), chips_hex24(chips[-24:])) == \
            (row["first24_hex"], row["last24_hex"]), f"PRN {row['prn']}"


def test_explicit_parameter_generators_reproduce_the_prn_tables():
    for row in params("afs_i_gold_prn_params.csv")[::23]:
        np.testing.assert_array_equal(codes.afs_i_gold(int(row["g2_delay_chips"])),
                                      codes.afs_i(int(row["prn"])))
    for row in params("afs_q_primary_weil_prn_params.csv")[::23]:
        np.testing.assert_array_equal(
            codes.afs_q_primary_weil(int(row["weil_index_k"]), int(row["insertion_index_p"])),
            codes.afs_q_primary(int(row["prn"])))
    for row in params("afs_q_tertiary_weil_prn_params.csv")[::23]:
        np.testing.assert_array_equal(codes.afs_q_tertiary_weil(int(row["weil_index_k"])),
                                      codes.afs_q_tertiary(int(row["prn"])))


def test_secondary_codes_are_table_10_and_assigned_round_robin():
    assert ["".join(map(str, codes.afs_q_secondary(i).tolist())) for i in range(4)] == \
        ["1110", "0111", "1011", "1101"]
    assert [codes.afs_q_secondary_index(prn) for prn in (1, 2, 3, 4, 5, 12, 210)] == [0, 1, 2, 3, 0, 3, 1]


def test_code_lengths():
    assert len(codes.gps_l1ca(1)) == codes.code_length(codes.CodeKind.GPS_L1CA) == 1023
    assert len(codes.afs_i(1)) == 2046
    assert len(codes.afs_q_primary(1)) == 10230
    assert len(codes.afs_q_tertiary(1)) == 1500


def test_cached_tables_are_shared_and_read_only():
    a = codes.afs_q_primary(7)
    assert codes.afs_q_primary(7) is a
    with pytest.raises(ValueError):
        a[0] = 1


@pytest.mark.parametrize("call, match", [
    (lambda: codes.gps_l1ca(0), "GPS L1 C/A PRN must be an integer 1..37"),
    (lambda: codes.afs_i(211), "AFS-I PRN must be an integer 1..210"),
    (lambda: codes.afs_q_primary(1.5), "AFS-Q primary PRN"),
    (lambda: codes.afs_q_secondary(4), "index must be 0..3"),
])
def test_out_of_range_prns_are_rejected_with_a_clear_message(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.sanitize
def test_out_of_range_explicit_parameters_raise_core_error():
    for call in (lambda: codes.afs_q_primary_weil(0, 1), lambda: codes.afs_q_primary_weil(1, 10224),
                 lambda: codes.afs_q_tertiary_weil(750), lambda: codes.afs_i_gold(2047)):
        with pytest.raises(CoreError, match="arg"):
            call()
