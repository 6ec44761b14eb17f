"""Prints, as JSON {name: hex}, GNU Radio's own pmt.serialize_str of the PMTs lunarelay writes.

Run with the system interpreter that has GNU Radio: ``/usr/bin/python3 pmt_vectors.py``.
"""

import json
import sys

import pmt

VALUES = {
    "symbol_rx_time": pmt.intern("rx_time"),
    "uint64_big": pmt.from_uint64(2**63 + 5),
    "double": pmt.from_double(0.123456789),
    "long_small": pmt.from_long(-42),
    "long_big": pmt.from_long(1 << 40),
    "complex": pmt.from_complex(1.5 - 2.25j),
    "true": pmt.PMT_T,
    "false": pmt.PMT_F,
    "nil": pmt.PMT_NIL,
    "rx_time": pmt.make_tuple(pmt.from_uint64(1_800_000_000), pmt.from_double(0.25)),
}

json.dump({name: pmt.serialize_str(value).hex() for name, value in VALUES.items()}, sys.stdout)
