"""What an input is: the link parameters auto-detection finds and the flags that pin them.

``LinkParams`` names the layer the octets start at (``format``) and every managed parameter the
decoders need.  ``flags()`` writes it back as ``lunarelay inspect`` options, so what the
detector found can be given on the next run to skip detection (or to override one parameter).
"""

from __future__ import annotations

import dataclasses

from onboard.core import rs

FORMATS = ("cadu", "tm", "aos", "tc", "cltu", "packets")
SYMBOLS = ("bytes", "soft")
CONV_RATES = ("1/2", "2/3", "3/4", "5/6", "7/8")
ASM_LEN = 4


@dataclasses.dataclass(frozen=True)
class LinkParams:
    format: str                      # cadu | tm | aos (bare frames) | tc | cltu | packets
    symbols: str = "bytes"           # cadu: octets, or one uint8 soft symbol per channel bit
    conv: str | None = None          # cadu: convolutional code rate, None for none
    frame: str | None = None         # cadu: tm | aos
    frame_length: int | None = None  # tm/aos frames (cadu or bare)
    rs_e: int = 0                    # cadu: 0 (none), 8, 16
    interleave: int = 1
    dual_basis: bool = True
    virtual_fill: int = 0
    randomize: bool = False          # cadu: TM randomizer; tc/cltu: TC randomizer
    inverted: bool = False           # cadu: the stream arrives complemented (reported; sync follows it)
    scid: int | None = None          # None: every spacecraft
    vcids: tuple[int, ...] | None = None   # None: every virtual channel
    ocf: bool = False
    fecf: bool = True
    fhec: bool = False               # AOS frame header error control
    insert_zone: int = 0             # AOS insert zone octets

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"input format must be one of {', '.join(FORMATS)}, not {self.format!r}")
        if self.symbols not in SYMBOLS:
            raise ValueError(f"symbols must be bytes or soft, not {self.symbols!r}")
        if self.conv is not None and self.conv not in CONV_RATES:
            raise ValueError(f"convolutional rate must be one of {', '.join(CONV_RATES)}, not {self.conv!r}")
        if self.frame_kind not in (None, "tm", "aos"):
            raise ValueError(f"frame kind must be tm or aos, not {self.frame_kind!r}")
        if self.rs_e not in (0, 8, 16):
            raise ValueError(f"RS E must be 0, 8 or 16, not {self.rs_e}")
        if self.rs_e and self.interleave not in rs.INTERLEAVE_DEPTHS:
            raise ValueError(f"RS interleave depth must be one of {rs.INTERLEAVE_DEPTHS}, "
                             f"not {self.interleave}")
        if self.format in ("cadu", "tm", "aos"):
            if self.frame_length is None or not 8 <= self.frame_length <= 2048:
                raise ValueError(f"transfer frame length {self.frame_length} is outside 8..2048")
            carried = self.interleave * (255 - 2 * self.rs_e - self.virtual_fill)
            if self.rs_e and self.frame_length != carried:
                raise ValueError(f"RS E={self.rs_e} I={self.interleave} with virtual fill "
                                 f"{self.virtual_fill} carries {carried}-octet frames, "
                                 f"not {self.frame_length}")

    @property
    def frame_kind(self) -> str | None:
        """tm or aos for transfer frames (CADUs or bare), else None."""
        if self.format in ("tm", "aos"):
            return self.format
        return self.frame if self.format == "cadu" else None

    @property
    def codeblock_length(self) -> int:
        if not self.rs_e:
            return self.frame_length
        return self.interleave * (255 - self.virtual_fill)

    @property
    def cadu_length(self) -> int:
        return ASM_LEN + self.codeblock_length

    def reed_solomon(self) -> rs.ReedSolomon | None:
        if not self.rs_e:
            return None
        return rs.ReedSolomon(self.rs_e, self.interleave, self.dual_basis, self.virtual_fill)

    def replace(self, **changes) -> LinkParams:
        return dataclasses.replace(self, **changes)

    def flags(self) -> list[str]:
        """The ``lunarelay inspect`` options that pin these parameters."""
        out = ["--format", self.format]
        if self.format == "cadu":
            out += ["--symbols", self.symbols, "--conv", self.conv or "none", "--frame", self.frame]
            out += ["--frame-length", str(self.frame_length), "--rs", str(self.rs_e)]
            if self.rs_e:
                basis = "dual" if self.dual_basis else "conventional"
                out += ["--interleave", str(self.interleave), "--basis", basis]
                if self.virtual_fill:
                    out += ["--virtual-fill", str(self.virtual_fill)]
            out.append("--randomize" if self.randomize else "--no-randomize")
            if self.inverted:
                out.append("--inverted")
        elif self.format in ("tm", "aos"):
            out += ["--frame-length", str(self.frame_length)]
        elif self.format in ("tc", "cltu"):
            out.append("--randomize" if self.randomize else "--no-randomize")
        if self.frame_kind is not None or self.format == "tc":
            if self.scid is not None:
                out += ["--scid", f"{self.scid:#x}"]
            if self.vcids is not None:
                out += ["--vcid", ",".join(str(v) for v in self.vcids)]
        if self.frame_kind is not None:
            out.append("--ocf" if self.ocf else "--no-ocf")
        if self.frame_kind is not None or self.format in ("tc", "cltu"):
            out.append("--fecf" if self.fecf else "--no-fecf")
        if self.frame_kind == "aos" and self.fhec:
            out.append("--fhec")
        if self.frame_kind == "aos" and self.insert_zone:
            out += ["--insert-zone", str(self.insert_zone)]
        return out

    def describe(self) -> str:
        """One line in the field's words."""
        parts = []
        if self.format == "cadu":
            parts.append("CADU stream" + (" of soft symbols" if self.symbols == "soft" else " of octets"))
            if self.conv:
                parts.append(f"convolutional code K=7 r={self.conv}")
            if self.inverted:
                parts.append("inverted (BPSK 180°)")
            parts.append("TM randomizer" if self.randomize else "not randomized")
            if self.rs_e:
                parts.append(f"RS(255,{255 - 2 * self.rs_e}) I={self.interleave} "
                             f"{'dual' if self.dual_basis else 'conventional'} basis"
                             + (f" virtual fill {self.virtual_fill}" if self.virtual_fill else ""))
            else:
                parts.append("no Reed-Solomon")
        elif self.format in ("tm", "aos"):
            parts.append("bare transfer frames")
        elif self.format == "tc":
            parts.append("TC transfer frames")
        elif self.format == "cltu":
            parts.append("CLTUs" + (" with TC randomizer" if self.randomize else " not randomized"))
        else:
            parts.append("space packets")
        kind = self.frame_kind
        if kind:
            fields = [f"{kind.upper()} frames of {self.frame_length} octets"]
            if self.scid is not None:
                fields.append(f"SCID {self.scid:#x}")
            if self.vcids is not None:
                fields.append("VC " + ",".join(str(v) for v in self.vcids))
            fields.append("OCF" if self.ocf else "no OCF")
            fields.append("FECF" if self.fecf else "no FECF")
            if kind == "aos" and self.fhec:
                fields.append("FHEC")
            if kind == "aos" and self.insert_zone:
                fields.append(f"insert zone {self.insert_zone} octets")
            parts.append(" ".join(fields[:1]) + (", " + ", ".join(fields[1:]) if fields[1:] else ""))
        return "; ".join(parts)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["vcids"] = list(self.vcids) if self.vcids is not None else None
        return d
