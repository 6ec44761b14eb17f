"""construct declarations of the CCSDS headers: the one declarative source of the field names and
bit layouts that ``lunarelay inspect`` prints, writes and exports and that its Wireshark dissector
(tools/wireshark/lunarelay.lua, generated block) shows, and the way to declare mission-specific
secondary headers.  Field names follow the Blue Books.

The C core (onboard.core.spp/tm/tc/aos/prox1) does the per-frame and per-packet bulk work; for
batches, ``bit_layout`` turns a flat ``BitStruct`` into (name, bit offset, width) triples and
``extract`` reads every field of many headers at once with numpy.  Tests keep the construct, C
and numpy views in agreement.

    >>> SpacePacketPrimaryHeader.parse(bytes.fromhex("0123c0050004"))["apid"]
    291
"""

from __future__ import annotations

import dataclasses

import numpy as np
from construct import (
    Bit,
    BitsInteger,
    BitStruct,
    Bytes,
    Const,
    Flag,
    If,
    Int16ub,
    Padding,
    Struct,
    this,
)

# CCSDS 133.0-B-2 §4.1.3, figure 4-2.
SpacePacketPrimaryHeader = BitStruct(
    "version" / BitsInteger(3),
    "type" / Bit,
    "sec_hdr_flag" / Flag,
    "apid" / BitsInteger(11),
    "seq_flags" / BitsInteger(2),
    "seq_count" / BitsInteger(14),
    "data_length" / BitsInteger(16),
)


def SpacePacket(secondary_header=None):  # noqa: N802 - construct-style factory
    """A whole space packet; ``secondary_header`` is a construct for the mission's secondary header
    (e.g. ``timecode.cuc_construct(4, 2)``), present when the header's flag is set."""
    fields = [
        "primary_header" / SpacePacketPrimaryHeader,
    ]
    if secondary_header is not None:
        fields.append("secondary_header" / If(this.primary_header.sec_hdr_flag, secondary_header))
    # §4.1.3.5.3: data_length counts the whole data field (secondary header included) minus one.
    fields.append("data" / Bytes(lambda ctx: ctx.primary_header.data_length + 1
                                 - (_sizeof_sec(secondary_header) if ctx.primary_header.sec_hdr_flag
                                    and secondary_header is not None else 0)))
    return Struct(*fields)


def _sizeof_sec(sec) -> int:
    return sec.sizeof()


# CCSDS 132.0-B-3 §4.1.2, figure 4-3: the six octets of the TM transfer frame primary header.
TmPrimaryHeader = BitStruct(
    "tfvn" / BitsInteger(2),
    "scid" / BitsInteger(10),
    "vcid" / BitsInteger(3),
    "ocf_flag" / Flag,
    "mc_count" / BitsInteger(8),
    "vc_count" / BitsInteger(8),
    "sec_hdr_flag" / Flag,
    "sync_flag" / Flag,
    "packet_order_flag" / Flag,
    "segment_length_id" / BitsInteger(2),
    "first_header_pointer" / BitsInteger(11),
)

# §4.1.3: secondary header identification (version 00, length minus one) then the data.
TmSecondaryHeader = Struct(
    "id" / BitStruct("version" / BitsInteger(2), "length" / BitsInteger(6)),
    "data" / Bytes(this.id.length),
)

# CCSDS 232.0-B-4 §4.2.1.2 (CLCW), carried in the TM/AOS operational control field.
Clcw = BitStruct(
    "control_word_type" / Const(0, Bit),
    "clcw_version" / BitsInteger(2),
    "status_field" / BitsInteger(3),
    "cop_in_effect" / BitsInteger(2),
    "vcid" / BitsInteger(6),
    Padding(2),
    "no_rf_available" / Flag,
    "no_bit_lock" / Flag,
    "lockout" / Flag,
    "wait" / Flag,
    "retransmit" / Flag,
    "farm_b_counter" / BitsInteger(2),
    Padding(1),
    "report_value" / BitsInteger(8),
)

# CCSDS 732.0-B-4 §4.1.2, figure 4-2: AOS transfer frame primary header (without FHEC).
AosPrimaryHeader = BitStruct(
    "tfvn" / BitsInteger(2),
    "scid" / BitsInteger(8),
    "vcid" / BitsInteger(6),
    "vc_count" / BitsInteger(24),
    "replay_flag" / Flag,
    "vc_count_usage_flag" / Flag,
    "spare" / BitsInteger(2),
    "vc_count_cycle" / BitsInteger(4),
)

AosPrimaryHeaderFhec = Struct(
    "header" / AosPrimaryHeader,
    "fhec" / Int16ub,  # §4.1.2.6, RS(10,6) over GF(16)
)

# §4.1.4.2.2: M_PDU header (spare, first header pointer).
AosMpduHeader = BitStruct("spare" / BitsInteger(5), "first_header_pointer" / BitsInteger(11))
# §4.1.4.3.2: B_PDU header (spare, bitstream data pointer).
AosBpduHeader = BitStruct("spare" / BitsInteger(2), "bitstream_data_pointer" / BitsInteger(14))

# CCSDS 232.0-B-4 §4.1.2, figure 4-2: TC transfer frame primary header.
TcPrimaryHeader = BitStruct(
    "tfvn" / BitsInteger(2),
    "bypass_flag" / Flag,
    "control_command_flag" / Flag,
    "spare" / BitsInteger(2),
    "scid" / BitsInteger(10),
    "vcid" / BitsInteger(6),
    "frame_length" / BitsInteger(10),  # total octets minus one
    "frame_seq_num" / BitsInteger(8),
)

# §4.1.3.2 (232.0-B-4 annex / 232.1): segment header.
TcSegmentHeader = BitStruct("seq_flags" / BitsInteger(2), "map_id" / BitsInteger(6))

# CCSDS 211.0-B-6 §3.2.2: Proximity-1 version-3 transfer frame header.
Prox1Header = BitStruct(
    "tfvn" / BitsInteger(2),
    "qos" / Flag,
    "pdu_type" / Flag,
    "dfc_id" / BitsInteger(2),
    "scid" / BitsInteger(10),
    "pcid" / Bit,
    "port_id" / BitsInteger(3),
    "source_or_destination" / Flag,
    "frame_length" / BitsInteger(11),  # total octets minus one
    "frame_seq_num" / BitsInteger(8),
)


# Cadu-level and frame-level layouts that have no construct of their own in the Blue Books' terms.
FhecField = BitStruct("fhec" / BitsInteger(16))   # 732.0-B-4 §4.1.2.6
OcfWord = BitStruct("ocf" / BitsInteger(32))        # 132.0-B-3 §4.1.5
FecfWord = BitStruct("fecf" / BitsInteger(16))      # 132.0-B-3 §4.1.6
CltuStart = BitStruct("start_sequence" / BitsInteger(16))   # 231.0-B-4 §5.2.2: EB90


@dataclasses.dataclass(frozen=True)
class BitField:
    name: str
    offset: int      # bits from the first bit of the header
    width: int


def bit_layout(bitstruct) -> tuple[BitField, ...]:
    """(name, bit offset, width) of every named field of a flat ``BitStruct``; padding is skipped."""
    inner = getattr(bitstruct, "subcon", None)
    subcons = getattr(inner, "subcons", None)
    if subcons is None:
        raise TypeError(f"{bitstruct!r} is not a flat BitStruct")
    fields, offset = [], 0
    for sc in subcons:
        width = sc.sizeof()      # inside Bitwise, one unit is one bit
        if sc.name:
            fields.append(BitField(sc.name, offset, width))
        offset += width
    return tuple(fields)


def layout_bits(bitstruct) -> int:
    """Total width of a flat ``BitStruct`` in bits."""
    return bitstruct.subcon.sizeof()


def extract(bitstruct, rows: np.ndarray, at: int = 0) -> dict[str, np.ndarray]:
    """Every field of the header at octet ``at`` of each row of ``rows`` ((n, m) uint8), as uint64
    arrays: the vectorised twin of ``bitstruct.parse`` for headers up to 64 bits."""
    total = layout_bits(bitstruct)
    if total > 64 or total % 8:
        raise ValueError(f"headers of {total} bits are not read in one word")
    n_octets = total // 8
    rows = np.asarray(rows)
    if rows.ndim != 2 or rows.shape[1] < at + n_octets:
        raise ValueError(f"rows of shape {rows.shape} do not hold a {n_octets}-octet header at {at}")
    word = np.zeros(rows.shape[0], dtype=np.uint64)
    for i in range(n_octets):
        word = (word << np.uint64(8)) | rows[:, at + i].astype(np.uint64)
    out = {}
    for f in bit_layout(bitstruct):
        shift = np.uint64(total - f.offset - f.width)
        out[f.name] = (word >> shift) & np.uint64((1 << f.width) - 1)
    return out


# The headers the dissector and the exports describe, by protocol prefix.
DISPLAYED = {
    "tm": (TmPrimaryHeader,),
    "aos": (AosPrimaryHeader,),
    "mpdu": (AosMpduHeader,),
    "tc": (TcPrimaryHeader,),
    "tcseg": (TcSegmentHeader,),
    "spp": (SpacePacketPrimaryHeader,),
    "clcw": (Clcw,),
}


def lua_field_table() -> str:
    """The field declarations of tools/wireshark/lunarelay.lua (its generated block): for each
    protocol, ``{name, header octets, bit offset, width}``."""
    lines = ["local LAYOUTS = {"]
    for proto, structs in DISPLAYED.items():
        lines.append(f"  {proto} = {{")
        for st in structs:
            total = layout_bits(st)
            for f in bit_layout(st):
                lines.append(f'    {{"{f.name}", {total // 8}, {f.offset}, {f.width}}},')
        lines.append("  },")
    lines.append("}")
    return "\n".join(lines)


if __name__ == "__main__":
    # regenerate the block of tools/wireshark/lunarelay.lua between its GENERATED markers
    print(lua_field_table())
