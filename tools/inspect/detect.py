"""Auto-detection: what an input is, found by trying hypotheses on its first octets.

The families, cheapest first: capture files (pcap/pcapng magic), CLTUs (start sequence and BCH
codeblocks that decode), KISS/SLIP framing, space packets (a chain of well-formed headers), TC
frames (headers whose lengths chain and whose FECF matches), CADUs (the ASM at a steady period, in
octets, then in hard-sliced soft symbols), bare TM/AOS frames (a fixed period at which the
header's version and spacecraft ID repeat), and last convolutionally coded CADUs (each rate and
puncturing phase through the Viterbi decoder, then the ASM search).

For CADUs the codeblock length the ASM period gives fixes the candidates: Reed-Solomon E=16/8 at
each interleave depth (with virtual fill where the length asks for it) or none, dual or
conventional basis, randomizer on or off.  A candidate is right when every codeword of the first
CADUs decodes (or, without RS, when the frames' FECF matches or, failing that, their headers agree).
The frames then say the rest: TM or AOS (version number), OCF and FECF, SCID, virtual channels,
and for AOS the FHEC and OCF by which layout makes the first header pointers agree.

Parameters the user pinned are kept and only the others are searched.  When nothing fits,
``Detection.rejected`` says, family by family, why not.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from hil.capture import is_capture
from lunarelay_tools.inspect import headers, serial
from lunarelay_tools.inspect.accounting import Ledger
from lunarelay_tools.inspect.frames import FrameLayer
from lunarelay_tools.inspect.link import CONV_RATES, LinkParams
from lunarelay_tools.inspect.packets import index_all
from onboard.core import aos, cltu, conv, rand, rs, sync
from onboard.core.crc import crc16_ccitt, crc16_ccitt_frames
from onboard.core.spp import IndexStop

HEAD_OCTETS = 1 << 19          # what detection looks at
MIN_CADUS = 3                   # markers at one period that make a CADU stream
FRAMES_CHECKED = 8              # CADUs or frames a layout hypothesis is tried on
PUNCTURE_PERIOD = {"1/2": 2, "2/3": 3, "3/4": 4, "5/6": 6, "7/8": 8}   # transmitted symbols per pattern


@dataclasses.dataclass
class Detection:
    params: LinkParams | None = None
    container: str | None = None         # pcap, or a serial framing: asm, kiss, slip
    serial_crc: bool = False             # serial frames carry a CRC-16 after the packet
    evidence: list[str] = dataclasses.field(default_factory=list)
    rejected: list[str] = dataclasses.field(default_factory=list)
    vcids_seen: tuple[int, ...] = ()

    @property
    def found(self) -> bool:
        return self.params is not None or self.container == "pcap"

    def why_not(self) -> str:
        return "; ".join(self.rejected) or "no hypothesis was tried"


# --- helpers ---------------------------------------------------------------------------------------
def _u8(data) -> np.ndarray:
    return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8) if not isinstance(data, np.ndarray) \
        else data.reshape(-1)


def _asm_hits(packed: np.ndarray, max_errors: int, limit: int = 48) -> list[tuple[int, bool]]:
    hits, start = [], 0
    while len(hits) < limit:
        hit = sync.find_asm(packed, max_errors=max_errors, detect_inverted=True, start_bit=start)
        if hit is None:
            break
        hits.append((hit[0], hit[2]))
        start = hit[0] + 1
    return hits


def asm_period(packed: np.ndarray) -> tuple[int, int, bool] | None:
    """(first marker bit offset, CADU length in bits, inverted) of a steady ASM period, or None."""
    for errors in (0, 2):
        hits = _asm_hits(packed, errors)
        if len(hits) < MIN_CADUS:
            continue
        offs = np.array([h[0] for h in hits], dtype=np.int64)
        diffs = np.diff(offs)
        diffs = diffs[(diffs % 8 == 0) & (diffs >= 8 * (4 + 8))]
        if not diffs.size:
            continue
        values, counts = np.unique(diffs, return_counts=True)
        period = int(values[np.argmax(counts)])
        for first in offs.tolist():
            support = sum(1 for o in offs.tolist() if o >= first and (o - first) % period == 0)
            if support >= MIN_CADUS:
                inverted = dict(hits)[first]
                return first, period, inverted
    return None


def _bits_at(packed: np.ndarray, first_bit: int, n_octets: int, count: int, step_bits: int) -> np.ndarray:
    """``count`` blocks of ``n_octets`` starting at bit ``first_bit`` every ``step_bits`` bits."""
    bits = np.unpackbits(packed)
    rows = []
    for k in range(count):
        s = first_bit + k * step_bits
        if s + 8 * n_octets > bits.size:
            break
        rows.append(np.packbits(bits[s:s + 8 * n_octets]))
    return np.array(rows, dtype=np.uint8).reshape(len(rows), n_octets)


def _rs_candidates(cb_len: int, p: dict) -> list[tuple[int, int, int, int]]:
    """(E, I, virtual fill, frame length) the codeblock length allows, RS first, then none."""
    out = []
    for e in (16, 8):
        for depth in rs.INTERLEAVE_DEPTHS:
            if cb_len % depth:
                continue
            n = cb_len // depth
            q = 255 - n
            if 0 <= q < 255 - 2 * e and n - 2 * e > 0:
                out.append((e, depth, q, depth * (n - 2 * e)))
    out.sort(key=lambda c: (c[2] != 0, c[0] != 16, c[1]))
    out.append((0, 1, 0, cb_len))
    if p.get("rs_e") is not None:
        out = [c for c in out if c[0] == p["rs_e"]]
    if p.get("interleave") is not None:
        out = [c for c in out if c[0] == 0 or c[1] == p["interleave"]]
    if p.get("virtual_fill") is not None:
        out = [c for c in out if c[2] == p["virtual_fill"]]
    if p.get("frame_length") is not None:
        out = [c for c in out if c[3] == p["frame_length"]]
    return out


def _header_agreement(frames: np.ndarray) -> tuple[str | None, float]:
    """(tm/aos, fraction of frames agreeing on version and spacecraft ID) of candidate frames."""
    best = (None, 0.0)
    if not len(frames):
        return best
    for kind, st, version in (("tm", headers.TmPrimaryHeader, 0), ("aos", headers.AosPrimaryHeader, 1)):
        h = headers.extract(st, frames)
        ok = h["tfvn"] == version
        if not ok.any():
            continue
        scids, counts = np.unique(h["scid"][ok], return_counts=True)
        agree = float(counts.max()) / len(frames)
        if agree > best[1]:
            best = (kind, agree)
    return best


def _headers_steady(frames: np.ndarray) -> bool:
    """Frames with no check at all: one version and SCID, and frame counts that step by one."""
    kind, agree = _header_agreement(frames)
    if kind is None or agree < 0.9 or len(frames) < 3:
        return False
    if kind == "tm":
        step = np.diff(frames[:, 2].astype(np.int64)) % 256          # master channel frame count
    else:
        count = frames[:, 2].astype(np.int64) << 16 | frames[:, 3].astype(np.int64) << 8 | frames[:, 4]
        vcid = frames[:, 1] & 0x3F
        same = vcid[1:] == vcid[:-1]
        if not same.any():
            return False
        step = (np.diff(count) % (1 << 24))[same]
    return bool((step == 1).mean() >= 0.6)


def frame_layout(frames: np.ndarray, p: dict, det: Detection) -> dict | None:
    """Frame kind, FECF, OCF, FHEC, SCID and VCIDs of candidate frames (rows), or None."""
    n, flen = frames.shape
    fecf_ok = crc16_ccitt_frames(np.ascontiguousarray(frames), flen) == 0
    if p.get("fecf") is not None:
        fecf = p["fecf"]
    else:
        fecf = bool(fecf_ok.mean() >= 0.5)
    kind = p.get("frame")
    if kind is None:
        kind, agree = _header_agreement(frames[fecf_ok] if fecf and fecf_ok.any() else frames)
        if kind is None or agree < 0.5:
            return None
    st = headers.TmPrimaryHeader if kind == "tm" else headers.AosPrimaryHeader
    h = headers.extract(st, frames)
    good = (h["tfvn"] == (0 if kind == "tm" else 1)) & (fecf_ok if fecf else True)
    if not good.any():
        return None
    scids, counts = np.unique(h["scid"][good], return_counts=True)
    scid = p.get("scid") if p.get("scid") is not None else int(scids[np.argmax(counts)])
    ours = good & (h["scid"] == scid)
    vcids = tuple(sorted(set(h["vcid"][ours].astype(int).tolist())))
    out = {"frame": kind, "fecf": fecf, "scid": scid, "frame_length": flen}
    if kind == "tm":
        flags = h["ocf_flag"][ours].astype(bool)
        out["ocf"] = bool(flags.mean() >= 0.5) if p.get("ocf") is None else p["ocf"]
        out["fhec"] = False
    else:
        fhec_ok = np.array([aos.fhec(bytes(f[:6])) == int.from_bytes(bytes(f[6:8]), "big")
                            for f in frames[ours]])
        out["fhec"] = bool(fhec_ok.mean() >= 0.5) if p.get("fhec") is None else p["fhec"]
        out["insert_zone"], out["ocf"] = _aos_layout_by_pointers(frames[ours], out, p, det)
    det.vcids_seen = vcids
    return out


def _aos_layout_by_pointers(frames: np.ndarray, layout: dict, p: dict, det: Detection) -> tuple[int, bool]:
    """(insert zone length, OCF) of AOS frames, which their headers do not say (732.0-B-4 §4.1.3,
    §4.1.5: managed parameters): the layout under which every M_PDU header is one (five spare bits
    0, 732.0-B-4 §4.1.4.2.2, and a first header pointer inside the packet zone) and the packets
    chain from the pointers with the fewest contradictions and the most packets."""
    flen, fecf = layout["frame_length"], layout["fecf"]
    head = 6 + 2 * layout["fhec"]
    data = frames[(frames[:, 1] & 0x3F) != 63]           # idle frames (VC 63) carry no M_PDU
    ocfs = (False, True) if p.get("ocf") is None else (p["ocf"],)
    if p.get("insert_zone") is not None or not len(data):
        zones: range | tuple = (p.get("insert_zone") or 0,)
    else:
        zones = range(0, max(0, flen - head - 2 - 2 * fecf - 1))
    scores = {}
    for zone in zones:
        at = head + zone
        zone_len = flen - at - 2 - 2 * fecf
        if zone_len < 1:
            break
        if len(zones) > 1 and len(data):
            fhp = (data[:, at].astype(np.int64) & 7) << 8 | data[:, at + 1]
            if (data[:, at] >> 3).any() or ((fhp >= zone_len) & (fhp < 0x7FE)).any():
                continue
        for ocf in ocfs:
            if zone_len - 4 * ocf < 1:
                continue
            params = LinkParams("aos", frame_length=flen, scid=layout["scid"], ocf=ocf, fecf=fecf,
                                fhec=layout["fhec"], insert_zone=zone)
            fl = FrameLayer(params, Ledger())
            fl.push(frames, np.arange(len(frames)) * flen)
            errors = sum(s["fhp_errors"] + s["bad_packets"] for s in fl.vc_stats.values())
            packets = sum(s["packets"] + s["idle_packets"] for s in fl.vc_stats.values())
            scores[zone, ocf] = (errors, -packets, zone, ocf)
    if not scores:
        return (p.get("insert_zone") or 0), bool(p.get("ocf"))
    zone, ocf = min(scores, key=scores.get)
    if zone and p.get("insert_zone") is None:
        det.evidence.append(f"AOS insert zone of {zone} octets: M_PDU headers and packets agree there")
    return zone, ocf


# --- families ----------------------------------------------------------------------------------------
def _try_cadu(packed: np.ndarray, p: dict, det: Detection, symbols: str, conv_rate: str | None) -> bool:
    found = asm_period(packed)
    what = "soft symbols" if symbols == "soft" else "octets"
    if conv_rate:
        what += f" through the r={conv_rate} Viterbi decoder"
    if found is None:
        det.rejected.append(f"CADUs in {what}: no attached sync marker (1ACFFC1D or inverted) at a steady "
                            "period")
        return False
    first, period, inverted = found
    cb_len = period // 8 - 4
    if cb_len < 8:
        det.rejected.append(f"CADUs in {what}: the marker period of {period // 8} octets is too short")
        return False
    blocks = _bits_at(packed, first + 32, cb_len, FRAMES_CHECKED, period)
    if inverted:
        blocks = ~blocks
    if len(blocks) < 2:
        det.rejected.append(f"CADUs in {what}: fewer than two whole CADUs in the first octets")
        return False
    tried = []
    for (e, depth, q, flen), basis, randomize in itertools.product(
            _rs_candidates(cb_len, p),
            [True, False] if p.get("dual_basis") is None else [p["dual_basis"]],
            [True, False] if p.get("randomize") is None else [p["randomize"]]):
        if e == 0 and not basis:
            continue
        cbs = blocks.copy()
        if randomize:
            cbs = rand.randomize_frames(cbs, cb_len, 0, out=cbs)
        if e:
            r = rs.ReedSolomon(e, depth, basis, q)
            frames, counts = r.decode_codewords(np.ascontiguousarray(cbs))
            decodes = (counts >= 0).all(axis=1)
            # a damaged CADU among the first ones must not hide the right code: most must decode
            if decodes.sum() < max(2, -(-2 * len(cbs) // 3)):
                tried.append(f"RS E={e} I={depth}{f' Q={q}' if q else ''} {'dual' if basis else 'conv'}"
                             f"{' rand' if randomize else ''}")
                continue
            frames = frames[decodes]
        else:
            frames = cbs
            flen_ok = crc16_ccitt_frames(np.ascontiguousarray(frames), flen) == 0
            # without RS or FECF nothing checks the frames: their headers must agree and count on
            if not (flen_ok.mean() >= 0.5 or (p.get("fecf") is not True and _headers_steady(frames))):
                tried.append(f"no RS{' rand' if randomize else ''}: FECF matches {int(flen_ok.sum())} of "
                             f"{len(frames)} frames and the headers do not agree")
                continue
        layout = frame_layout(frames, p, det)
        if layout is None:
            tried.append(f"{'RS' if e else 'no RS'}: the frames' headers do not agree on a version and SCID")
            continue
        det.params = LinkParams("cadu", symbols=symbols, conv=conv_rate, frame=layout["frame"],
                                frame_length=flen, rs_e=e, interleave=depth if e else 1, dual_basis=basis,
                                virtual_fill=q, randomize=randomize, inverted=inverted, scid=layout["scid"],
                                vcids=p.get("vcids"), ocf=layout["ocf"], fecf=layout["fecf"],
                                fhec=layout["fhec"], insert_zone=layout.get("insert_zone", 0))
        if e:
            check = f"every codeword of {len(frames)} of the first {len(blocks)} CADUs decodes"
        elif layout["fecf"]:
            check = f"the FECF of {int(flen_ok.sum())} of the first {len(blocks)} frames matches"
        else:
            check = f"the headers of the first {len(blocks)} frames agree and count on (no RS, no FECF)"
        det.evidence.append(f"ASM every {period // 8} octets from bit {first}"
                            + (" (inverted)" if inverted else "") + "; " + check)
        return True
    det.rejected.append(f"CADUs in {what}: markers every {period // 8} octets, but no coding fits "
                        f"({', '.join(tried[:6])}{' ...' if len(tried) > 6 else ''})")
    return False


def _soft_like(arr: np.ndarray) -> bool:
    if arr.size < 256:
        return False
    extreme = ((arr < 64) | (arr > 191)).mean()
    return extreme > 0.9 and (arr < 128).any() and (arr >= 128).any()


def _try_conv(arr: np.ndarray, p: dict, det: Detection, symbols: str) -> bool:
    soft = arr if symbols == "soft" else np.unpackbits(arr) * np.uint8(255)
    soft = soft[:min(soft.size, 1 << 19)]
    rates = CONV_RATES if p.get("conv") in (None, "any") else (p["conv"],)
    for rate in rates:
        for phase in range(PUNCTURE_PERIOD[rate]):
            v = conv.ViterbiDecoder(conv.ConvRate.parse(rate), start_state=None)
            bits = np.concatenate([v.update(soft[phase:]), v.finish()])
            packed = np.packbits(bits)
            sub = Detection()
            if _try_cadu(packed, p, sub, symbols, rate):
                det.params, det.evidence = sub.params, sub.evidence + [
                    f"convolutional code r={rate}" + (f", symbol phase {phase}" if phase else "")]
                det.vcids_seen = sub.vcids_seen
                if phase:
                    det.evidence.append(f"the first {phase} symbols are not whole code symbols")
                return True
    det.rejected.append(f"convolutional code ({', '.join(rates)}, every puncturing phase): "
                        "no ASM in the decoded bits")
    return False


def _try_bare_frames(arr: np.ndarray, p: dict, det: Detection) -> bool:
    n = arr.size
    lengths = [p["frame_length"]] if p.get("frame_length") else range(16, 2049)
    for kind in ([p["frame"]] if p.get("frame") else ["tm", "aos"]):
        version = 0 if kind == "tm" else 1
        for flen in lengths:
            k = min(FRAMES_CHECKED, n // flen)
            if k < 2:
                continue
            frames = arr[:k * flen].reshape(k, flen)
            if (frames[:, 0] >> 6 != version).any():
                continue
            if kind == "tm":
                scid = (frames[:, 0].astype(np.int64) << 4 | frames[:, 1] >> 4) & 0x3FF
            else:
                scid = (frames[:, 0].astype(np.int64) << 2 | frames[:, 1] >> 6) & 0xFF
            if (scid != scid[0]).any():
                continue
            fecf_ok = crc16_ccitt_frames(np.ascontiguousarray(frames), flen) == 0
            if kind == "tm":
                mc = frames[:, 2].astype(np.int64)
                steady = ((np.diff(mc) % 256) == 1).mean() >= 0.5
            else:
                steady = True
            if not (fecf_ok.all() or (p.get("fecf") is False and steady and k >= 4)):
                continue
            pp = dict(p, frame=kind)
            layout = frame_layout(frames, pp, det)
            if layout is None:
                continue
            det.params = LinkParams(kind, frame_length=flen, scid=layout["scid"], vcids=p.get("vcids"),
                                    ocf=layout["ocf"], fecf=layout["fecf"], fhec=layout["fhec"],
                                    insert_zone=layout.get("insert_zone", 0))
            det.evidence.append(f"{kind.upper()} headers with SCID {layout['scid']:#x} every {flen} octets"
                                + (f"; the FECF of {k} frames matches" if fecf_ok.all() else ""))
            return True
    det.rejected.append("bare TM/AOS frames: no frame length at which the version and SCID repeat with a "
                        "matching FECF")
    return False


def _packet_chain_plausible(entries: np.ndarray) -> bool:
    """Real packet streams repeat their APIDs and count each on; chance chains in noise do not."""
    if len(entries) < 3:
        return False
    apid = entries["apid"].astype(np.int64)
    if np.unique(apid).size <= len(entries) // 2:
        return True
    order = np.argsort(apid, kind="stable")
    a, s = apid[order], entries["seq_count"].astype(np.int64)[order]
    same = a[1:] == a[:-1]
    return bool(same.any() and (((s[1:] - s[:-1]) % 16384 == 1) & same).sum() >= same.sum() // 2)


def _try_exact_packets(arr: np.ndarray, det: Detection, whole: bool) -> bool:
    entries, end, stop, _ = index_all(arr)
    # a head cut from a longer input may end inside its last packet
    if stop == IndexStop.END and end == arr.size and whole and len(entries):
        # a chain that ends exactly on the last octet of the whole input: chance does not do that
        det.params = LinkParams("packets")
        det.evidence.append(f"{len(entries)} well-formed space packets chain from the first octet to the "
                            "last")
        return True
    # a head cut from a longer input may end inside its last packet; then its packets must look real
    exact = end == arr.size if stop == IndexStop.END else (stop == IndexStop.TRUNCATED and not whole)
    if exact and _packet_chain_plausible(entries):
        det.params = LinkParams("packets")
        det.evidence.append(f"{len(entries)} well-formed space packets chain from the first octet to the "
                            "last")
        return True
    return False


def _try_packets(arr: np.ndarray, det: Detection, whole: bool) -> bool:
    from lunarelay_tools.inspect.packets import PacketStream

    entries, end, stop, _ = index_all(arr)
    # a chain broken by a lying length or damage: the stream must recover and cover the input
    ledger = Ledger()
    stream = PacketStream(ledger)
    got = [stream.push(arr, final=whole)]
    if whole:
        got.append(stream.finish())
    rows = np.concatenate([b.rows for b in got])
    delivered = ledger.totals.get("packet", 0) + ledger.totals.get("idle_packet", 0)
    if len(rows) >= 3 and delivered >= 0.9 * arr.size and stream.bad_headers <= max(1, len(rows) // 20) \
            and _packet_chain_plausible(rows):
        det.params = LinkParams("packets")
        share = 100 * delivered / arr.size
        det.evidence.append(f"{len(rows)} well-formed space packets cover {share:.0f}% of the "
                            f"first octets (the chain breaks {stream.bad_headers} time(s))")
        return True
    why = {IndexStop.VERSION: "version not 0", IndexStop.TRUNCATED: "length runs past the end",
           IndexStop.END: "its APIDs neither repeat nor count on"}.get(stop, "")
    det.rejected.append(f"space packets: the header chain breaks at octet {end} ({why}) and no run of the "
                        "same APIDs covers the input")
    return False


def _try_tc_frames(arr: np.ndarray, p: dict, det: Detection) -> bool:
    from lunarelay_tools.inspect.tc import tc_header

    pos, frames, scids = 0, 0, set()
    data = arr.tobytes()
    while pos < len(data) and frames < 64:
        h = tc_header(data[pos:pos + 5])
        if h is None or pos + h["frame_length"] > len(data):
            break
        if crc16_ccitt(data[pos:pos + h["frame_length"]]) != 0:
            break
        scids.add(h["scid"])
        frames += 1
        pos += h["frame_length"]
    if frames >= 1 and (pos == len(data) or frames >= 3) and len(scids) == 1:
        scid = p["scid"] if p.get("scid") is not None else scids.pop()
        det.params = LinkParams("tc", scid=scid, vcids=p.get("vcids"), fecf=True)
        det.evidence.append(f"{frames} TC frames chain by their length fields with matching FECF")
        return True
    det.rejected.append("TC frames: no chain of TC headers with matching FECF from the first octet")
    return False


def _try_cltu(arr: np.ndarray, p: dict, det: Detection) -> bool:
    from lunarelay_tools.inspect.tc import tc_header

    found = cltu.CltuDecoder().decode(arr.tobytes()[:1 << 16])
    whole = [c for c in found if c.end == cltu.CltuEnd.TAIL]
    if not whole:
        det.rejected.append("CLTUs: no start sequence EB90 followed by codeblocks and a tail sequence")
        return False
    for randomize in ([True, False] if p.get("randomize") is None else [p["randomize"]]):
        ok = 0
        for c in whole[:8]:
            frame = rand.randomize(c.data, rand.Sequence.TC).tobytes() if randomize else c.data
            h = tc_header(frame)
            n = h["frame_length"] if h is not None else 0
            if h is not None and n <= len(frame) and crc16_ccitt(frame[:n]) == 0:
                ok += 1
        if ok >= max(1, len(whole[:8]) // 2):
            det.params = LinkParams("cltu", randomize=randomize, scid=p.get("scid"), vcids=p.get("vcids"))
            det.evidence.append(f"{len(whole)} CLTUs; {ok} carry a TC frame whose FECF matches"
                                + (" after the TC derandomizer" if randomize else ""))
            return True
    det.rejected.append("CLTUs: found, but no TC frame with a matching FECF inside, randomized or not")
    return False


def detect(head, pinned: dict | None = None, final: bool = True) -> Detection:
    """What ``head`` (the first octets of an input) is.  ``pinned``: parameters the user gave
    (LinkParams field names, plus ``format``), kept as they are."""
    p = dict(pinned or {})
    arr = _u8(head)[:HEAD_OCTETS]
    det = Detection()
    if not arr.size:
        det.rejected.append("the input is empty")
        return det
    fmt = p.get("format")
    if fmt in (None, "pcap") and is_capture(arr[:4].tobytes()):
        det.container = "pcap"
        det.evidence.append("pcap/pcapng magic number")
        return det
    if fmt == "pcap":
        det.rejected.append("pcap: no pcap or pcapng magic number")
        return det
    if fmt in (None, "cltu") and _try_cltu(arr, p, det):
        return det
    if fmt in serial.FRAMINGS or (fmt is None and serial.looks_framed(arr[:4096].tobytes())):
        if _try_serial(arr, p, det, fmt):
            return det
    if fmt in (None, "packets") and _try_exact_packets(arr, det, final):
        return det
    if fmt in (None, "tc") and _try_tc_frames(arr, p, det):
        return det
    if fmt in (None, "cadu"):
        symbols = p.get("symbols")
        conv_rate = p.get("conv")
        direct = symbols in (None, "bytes") and conv_rate in (None, "none")
        if direct and _try_cadu(arr, p, det, "bytes", None):
            return det
        soft = symbols == "soft" or (symbols is None and _soft_like(arr))
        if soft and conv_rate in (None, "none"):
            packed = np.packbits(arr > 127)
            if _try_cadu(packed, p, det, "soft", None):
                return det
    if fmt in (None, "tm", "aos") and _try_bare_frames(arr, dict(p, frame=fmt if fmt in ("tm", "aos")
                                                                  else p.get("frame")), det):
        return det
    # soft symbols (0x00/0xFF octets) read as chains of all-zero packets: not packets
    if fmt in (None, "packets") and not (fmt is None and _soft_like(arr)) and _try_packets(arr, det, final):
        return det
    if fmt in (None, "cadu") and p.get("conv") != "none":
        symbols = p.get("symbols")
        soft = symbols == "soft" or (symbols is None and _soft_like(arr))
        pp = dict(p, conv=None if p.get("conv") in (None, "none") else p["conv"])
        if _try_conv(arr, pp, det, "soft" if soft else "bytes"):
            return det
    return det


def _try_serial(arr: np.ndarray, p: dict, det: Detection, fmt: str | None) -> bool:
    """Space packets in serial frames (ASM + CRC-16, KISS or SLIP, with or without the CRC): the
    framing under which the C core's deframer finds the most packets."""
    framings = [fmt] if fmt in serial.FRAMINGS else list(serial.FRAMINGS)
    crcs = (p["serial_crc"],) if p.get("serial_crc") is not None else (True, False)
    found = serial.detect_framing(arr, framings, crcs)
    if found is None:
        det.rejected.append("serial frames (ASM, KISS, SLIP): no framing holds well-formed space packets "
                            "in most of the first octets")
        return False
    framing, crc, packets, share = found
    det.container = framing
    det.serial_crc = crc
    det.params = LinkParams("packets")
    det.evidence.append(f"{framing.upper()} framing{' with CRC-16' if crc else ''}: {packets} space packets "
                        f"in frames that make {share}% of the first octets")
    return True
