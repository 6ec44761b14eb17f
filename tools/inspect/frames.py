"""TM and AOS transfer frames to space packets, for batches of frames, with every octet filed.

Per batch: the primary headers of all frames are read at once (numpy over the construct layouts of
``headers``), the FECF of all frames is checked in one C call, and each frame is classified:
FECF failure, impossible header, another spacecraft, an unselected virtual channel, idle
(TM first header pointer 0x7FE, AOS VC 63), not packet data (TM sync flag), or packet data.

Packet data of each virtual channel is rebuilt segment by segment, a segment being a run of
frames whose VC frame count steps by one (132.0-B-3 §4.1.2.4.3, 732.0-B-4 §4.1.2.4): the data
fields of a segment are one packet stream, which the C indexer walks from the first packet the
first header pointer (§4.1.2.7 / 732.0-B-4 §4.1.4.2.3) shows.  Every later frame's pointer is
checked against the chain; where they disagree the chain's packet is dropped as a pointer
mismatch and the walk restarts at the pointer.  A packet still open at a segment's end
continues into the next batch, or, when frames were lost or an idle frame came, is filed as a
packet whose end was lost.  Python loops run per segment and per mismatch, never per packet.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lunarelay_tools.inspect import headers
from lunarelay_tools.inspect.accounting import Ledger
from lunarelay_tools.inspect.link import LinkParams
from lunarelay_tools.inspect.packets import PACKET_DTYPE, PacketBatch, index_all, rows_from_index
from onboard.core.crc import crc16_ccitt_frames
from onboard.core.spp import APID_IDLE, IndexStop

FHP_NO_PACKET = 0x7FF
FHP_IDLE = 0x7FE
AOS_VCID_IDLE = 63
MC_STATS = ("frames", "crc_failures", "bad_headers", "other_spacecraft", "vc_not_selected", "idle_frames",
            "not_packet_data", "mc_gaps", "mc_frames_lost", "mc_out_of_order")
VC_STATS = ("frames", "idle_frames", "vc_gaps", "vc_frames_lost", "vc_out_of_order", "fhp_errors",
            "packet_start_lost", "packet_end_lost", "bad_packets", "packets", "idle_packets")


def _counter_step(prev: int | None, counts: np.ndarray, modulus: int) -> tuple[np.ndarray, np.ndarray]:
    """(step from the previous count for each frame, whether a frame follows its predecessor)."""
    counts = counts.astype(np.int64)
    before = np.empty_like(counts)
    if counts.size:
        before[1:] = counts[:-1]
        before[0] = counts[0] - 1 if prev is None else prev
    step = (counts - before) % modulus
    return step, step == 1


@dataclasses.dataclass
class _Carry:
    """A packet still being rebuilt at the end of a batch."""

    data: bytearray
    input_offset: int
    frame: int
    pieces: list[tuple[int, int]]     # where its octets are in the input, frame by frame


class VcAssembler:
    """Rebuilds the packets of one virtual channel from its frames' data fields."""

    def __init__(self, vcid: int, modulus: int, ledger: Ledger, stats: dict[str, int]):
        self.vcid = vcid
        self.modulus = modulus
        self.ledger = ledger
        self.stats = stats
        self.last_count: int | None = None
        self.carry: _Carry | None = None

    def push(self, data: np.ndarray, fhp: np.ndarray, counts: np.ndarray, idle: np.ndarray,
             frame_index: np.ndarray, data_input: np.ndarray) -> list[PacketBatch]:
        """``data`` (m, dlen): the data fields of this VC's frames in arrival order; ``fhp`` their
        first header pointers; ``counts`` their VC counts; ``idle`` frames of only idle data;
        ``frame_index`` global frame numbers; ``data_input`` input offset of each data field."""
        m, dlen = data.shape
        step, follows = _counter_step(self.last_count, counts, self.modulus)
        if self.last_count is None and m:
            follows[0] = True              # the first frame of the channel follows nothing
        self.last_count = int(counts[-1]) if m else self.last_count
        gaps = ~follows
        backwards = gaps & (step >= self.modulus // 2)
        forward = gaps & ~backwards
        self.stats["vc_gaps"] += int(gaps.sum())
        self.stats["vc_frames_lost"] += int((step[forward] - 1).sum())
        self.stats["vc_out_of_order"] += int(backwards.sum())
        self.stats["frames"] += m
        n_idle = int(idle.sum())
        self.stats["idle_frames"] += n_idle
        if n_idle:
            self.ledger.add_ranges("idle_frame", data_input[idle], data_input[idle] + dlen)
        # segment boundaries: a count discontinuity, or an idle frame (which carries no packet)
        brk = gaps | idle
        brk_after_idle = np.zeros(m, dtype=bool)
        brk_after_idle[1:] = idle[:-1]
        starts = np.nonzero(brk | brk_after_idle)[0].tolist()
        if not starts or starts[0] != 0:
            starts = [0] + starts
        bounds = starts + [m]
        out: list[PacketBatch] = []
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            if a == b:
                continue
            if idle[a]:
                # an idle frame ends a packet in progress (it cannot continue through one)
                self._lose_carry("packet_end_lost")
                continue
            if brk[a]:
                self._lose_carry("packet_end_lost")
            last = b == m
            out.extend(self._segment(data[a:b], fhp[a:b], frame_index[a:b], data_input[a:b], last))
        return out

    def _lose_carry(self, reason: str, note: str = "") -> None:
        c = self.carry
        if c is None:
            return
        for a, b in c.pieces:
            self.ledger.add_range(reason, a, b, note or f"VC {self.vcid}, packet started in frame {c.frame}")
        self.stats[reason] += 1
        self.carry = None

    def finish(self) -> None:
        if self.carry is not None:
            for a, b in self.carry.pieces:
                self.ledger.add_range("truncated", a, b, f"VC {self.vcid}: open at the end of the input")
            self.carry = None

    @staticmethod
    def _pieces(s_from: int, s_to: int, dlen: int, data_input: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Input ranges of segment octets [s_from, s_to), one per frame they lie in."""
        if s_to <= s_from:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        frames = np.arange(s_from // dlen, (s_to - 1) // dlen + 1)
        lo = np.maximum(frames * dlen, s_from) - frames * dlen
        hi = np.minimum((frames + 1) * dlen, s_to) - frames * dlen
        base = data_input[frames].astype(np.int64)
        return base + lo, base + hi

    def _file(self, reason: str, s_from: int, s_to: int, dlen: int, data_input: np.ndarray) -> None:
        """File segment octets [s_from, s_to) (segment stream coordinates) frame by frame."""
        starts, ends = self._pieces(s_from, s_to, dlen, data_input)
        if starts.size == 1:
            self.ledger.add_range(reason, int(starts[0]), int(ends[0]), f"VC {self.vcid}")
        else:
            self.ledger.add_ranges(reason, starts, ends)

    def _segment(self, data: np.ndarray, fhp: np.ndarray, frame_index: np.ndarray, data_input: np.ndarray,
                 continues: bool) -> list[PacketBatch]:
        """One run of consecutive frames; ``continues`` when the run goes on in the next batch."""
        m, dlen = data.shape
        stream = data.reshape(-1)
        size = stream.size
        bases = np.arange(m, dtype=np.int64) * dlen
        fhp = fhp.astype(np.int64)
        has_ptr = fhp != FHP_NO_PACKET
        ptr_ok = has_ptr & (fhp < dlen)
        bad_ptr = has_ptr & ~ptr_ok
        ptr_pos = bases + fhp

        def next_pointer(from_frame: int, at_least: int) -> int:
            cand = np.nonzero(ptr_ok[from_frame:])[0] + from_frame
            where = ptr_pos[cand]
            where = where[where >= at_least]
            return int(where[0]) if where.size else size

        out: list[PacketBatch] = []
        carried, self.carry = self.carry, None
        if carried is not None:
            have = len(carried.data)
            head = bytes(carried.data[:6]) + stream[:max(0, 6 - have)].tobytes()
            total = (head[4] << 8 | head[5]) + 7 if len(head) >= 6 else None
            need = total - have if total is not None else size + 1
            if need > size:
                # the open packet runs through the whole segment: no frame may show a packet start
                if not has_ptr.any():
                    carried.data += stream.tobytes()
                    carried.pieces.extend(zip(*(a.tolist() for a in self._pieces(0, size, dlen, data_input)),
                                              strict=True))
                    self.carry = carried
                    if not continues:
                        self._lose_carry("packet_end_lost")
                    return out
                ok = False
            else:
                k = need // dlen
                ok = not has_ptr[:k].any() and (k == m or (ptr_ok[k] and ptr_pos[k] == need))
            if ok:
                self._deliver_whole(out, bytes(carried.data) + stream[:need].tobytes(), carried)
                pos = need
            else:
                self.carry = carried
                self._lose_carry("fhp_mismatch", f"VC {self.vcid}: the pointer contradicts the open packet")
                pos = next_pointer(0, 0)
                self._file("fhp_mismatch", 0, pos, dlen, data_input)
        else:
            pos = next_pointer(0, 0)
            if pos == size and bad_ptr.any():
                self.stats["fhp_errors"] += 1
                self._file("fhp_mismatch", 0, size, dlen, data_input)
                return out
            if pos:
                self.stats["packet_start_lost"] += 1
                self._file("packet_start_lost", 0, pos, dlen, data_input)
        # walk the chain, checking every later frame's pointer against it
        while pos < size:
            entries, end, stop, _missing = index_all(stream, pos)
            starts = entries["offset"].astype(np.int64)
            ends = starts + entries["length"].astype(np.int64)
            # the open packet (truncated) and the impossible header (version) start there too
            starts_chk = starts if stop == IndexStop.END else np.append(starts, end)
            covered_to = end + 1 if stop == IndexStop.VERSION else size
            check = np.arange(pos // dlen + 1, m)
            check = check[bases[check] < covered_to]
            first = np.append(starts_chk, size)[np.searchsorted(starts_chk, bases[check])]
            in_frame = first < bases[check] + dlen
            consistent = np.where(ptr_ok[check], in_frame & (first == ptr_pos[check]),
                                  ~in_frame & ~bad_ptr[check])
            bad = np.nonzero(~consistent)[0]
            if bad.size:
                k = int(check[bad[0]])
                keep = ends <= bases[k]
                self._deliver(out, stream, entries[keep], frame_index, data_input, dlen)
                lost_from = int(ends[keep][-1]) if keep.any() else pos
                restart = next_pointer(k, lost_from)
                self.stats["fhp_errors"] += 1
                self._file("fhp_mismatch", lost_from, restart, dlen, data_input)
                pos = restart
                continue
            self._deliver(out, stream, entries, frame_index, data_input, dlen)
            if stop == IndexStop.END:
                break
            if stop == IndexStop.TRUNCATED:
                f = end // dlen
                a, b = self._pieces(end, size, dlen, data_input)
                self.carry = _Carry(bytearray(stream[end:].tobytes()), int(data_input[f]) + end % dlen,
                                    int(frame_index[f]), list(zip(a.tolist(), b.tolist(), strict=True)))
                if not continues:
                    self._lose_carry("packet_end_lost")
                break
            # a header with a version other than 0: skip to the next pointer after it
            restart = next_pointer(end // dlen, end + 1)
            self.stats["bad_packets"] += 1
            self._file("bad_packet", end, restart, dlen, data_input)
            pos = restart
        return out

    def _deliver_whole(self, out: list[PacketBatch], packet: bytes, carried: _Carry) -> None:
        buf = np.frombuffer(packet, dtype=np.uint8).copy()
        entries, end, stop, _ = index_all(buf)
        if stop != IndexStop.END or len(entries) != 1:
            # the carried header was not a version-0 packet after all
            self.stats["bad_packets"] += 1
            self.ledger.add_range("bad_packet", carried.input_offset, carried.input_offset + len(packet),
                                  f"VC {self.vcid}")
            return
        rows = rows_from_index(entries)
        rows["vcid"] = self.vcid
        rows["frame"] = carried.frame
        rows["input_offset"] = carried.input_offset
        self._count(rows)
        out.append(PacketBatch(buf, rows))

    def _deliver(self, out: list[PacketBatch], stream: np.ndarray, entries: np.ndarray,
                 frame_index: np.ndarray, data_input: np.ndarray, dlen: int) -> None:
        if not len(entries):
            return
        first = int(entries["offset"][0])
        last = int(entries["offset"][-1] + entries["length"][-1])
        rows = rows_from_index(entries, 0)
        starts = entries["offset"].astype(np.int64)
        f = starts // dlen
        rows["vcid"] = self.vcid
        rows["frame"] = frame_index[f]
        rows["input_offset"] = data_input[f].astype(np.int64) + starts % dlen
        rows["offset"] -= np.uint64(first)
        self._count(rows)
        out.append(PacketBatch(stream[first:last], rows))    # a view: the batch is copied once, joined

    def _count(self, rows: np.ndarray) -> None:
        idle = rows["apid"] == APID_IDLE
        n_idle = int(idle.sum())
        self.stats["packets"] += len(rows) - n_idle
        self.stats["idle_packets"] += n_idle
        self.ledger.add("packet", int(rows["length"][~idle].sum()))
        self.ledger.add("idle_packet", int(rows["length"][idle].sum()))


class FrameLayer:
    """TM or AOS frames of one physical channel in batches; packets out, everything counted."""

    def __init__(self, params: LinkParams, ledger: Ledger):
        self.params = params
        self.kind = params.frame_kind
        self.flen = params.frame_length
        self.ledger = ledger
        self.mc = dict.fromkeys(MC_STATS, 0)
        self.vc_stats: dict[int, dict[str, int]] = {}
        self.vcs: dict[int, VcAssembler] = {}
        self._last_mc: int | None = None
        self.scids: dict[int, int] = {}
        self.last_ocf: int | None = None
        # per-frame series for plots: global frame index, VC, count gap before it
        self.series: list[np.ndarray] = []
        self.frames_seen = 0
        self.on_frames = None         # called with (kind, frames, params) for every batch of frames

    def push(self, frames: np.ndarray, offsets: np.ndarray, index: np.ndarray | None = None) -> PacketBatch:
        """``frames`` (n, frame_length) uint8 in arrival order, ``offsets`` the input octet of each
        frame's first octet, ``index`` their global numbers (default: counted here)."""
        n = len(frames)
        if index is None:
            index = np.arange(self.frames_seen, self.frames_seen + n, dtype=np.int64)
        self.frames_seen += n
        if not n:
            return PacketBatch.empty()
        frames = np.ascontiguousarray(frames)
        offsets = np.asarray(offsets, dtype=np.int64)
        if self.on_frames is not None:
            self.on_frames(self.kind, frames, self.params)
        flen = self.flen
        p = self.params
        # FECF: the CRC over the frame and its FECF is zero when they agree (no output XOR)
        crc_ok = crc16_ccitt_frames(frames, flen) == 0 if p.fecf else np.ones(n, dtype=bool)
        if self.kind == "tm":
            h = headers.extract(headers.TmPrimaryHeader, frames)
            version_ok = h["tfvn"] == 0
            sec = h["sec_hdr_flag"].astype(bool)
            sec_len = np.where(sec, (frames[:, 6] & 0x3F).astype(np.int64) + 1, 0)
            version_ok &= ~sec | ((frames[:, 6] >> 6) == 0)
            # 132.0-B-3 §4.1.2.2.5: each frame's own flag says whether it carries an OCF
            has_ocf = h["ocf_flag"].astype(bool)
            data_off = 6 + sec_len
            counts = h["vc_count"]
            fhp = h["first_header_pointer"].astype(np.int64)
            idle = fhp == FHP_IDLE
            not_packets = h["sync_flag"].astype(bool) & ~idle
            modulus = 256
        else:
            h = headers.extract(headers.AosPrimaryHeader, frames)
            version_ok = h["tfvn"] == 1
            head = 6 + 2 * p.fhec + p.insert_zone
            has_ocf = np.full(n, bool(p.ocf))                  # a managed parameter in AOS
            idle = h["vcid"] == AOS_VCID_IDLE
            # §4.1.4.1: an idle frame's data field is idle data, with no M_PDU header
            data_off = np.where(idle, head, head + 2).astype(np.int64)
            counts = np.where(h["vc_count_usage_flag"] == 1,
                              (h["vc_count_cycle"] << np.uint64(24)) | h["vc_count"], h["vc_count"])
            mp = headers.extract(headers.AosMpduHeader, frames, at=head)
            fhp = mp["first_header_pointer"].astype(np.int64)
            not_packets = np.zeros(n, dtype=bool)
            modulus = 1 << 28
        trailer = 4 * has_ocf.astype(np.int64) + 2 * bool(p.fecf)
        data_len = flen - data_off - trailer
        version_ok &= data_len > 0
        scid = h["scid"].astype(np.int64)
        vcid = h["vcid"].astype(np.int64)
        good = crc_ok & version_ok
        if good.any():
            ids, cnt = np.unique(scid[good], return_counts=True)
            for s, c in zip(ids.tolist(), cnt.tolist(), strict=True):
                self.scids[s] = self.scids.get(s, 0) + c
        ours = good & ((scid == p.scid) if p.scid is not None else True)
        selected = ours & (np.isin(vcid, p.vcids) if p.vcids is not None else True)
        if self.kind == "aos":
            selected |= ours & idle           # idle frames belong to no virtual channel
        st = self.mc
        st["frames"] += n
        st["crc_failures"] += int((~crc_ok).sum())
        st["bad_headers"] += int((crc_ok & ~version_ok).sum())
        st["other_spacecraft"] += int((good & ~ours).sum())
        st["vc_not_selected"] += int((ours & ~selected).sum())
        ends = offsets + flen
        self.ledger.add_ranges("crc_failure", offsets[~crc_ok], ends[~crc_ok])
        bad_hdr = crc_ok & ~version_ok
        self.ledger.add_ranges("bad_header", offsets[bad_hdr], ends[bad_hdr])
        other = good & ~ours
        self.ledger.add_ranges("other_spacecraft", offsets[other], ends[other])
        unsel = ours & ~selected
        self.ledger.add_ranges("vc_not_selected", offsets[unsel], ends[unsel])
        # master channel frame count (TM only: AOS counts per virtual channel)
        if self.kind == "tm" and ours.any():
            mc = h["mc_count"][ours].astype(np.int64)
            step, follows = _counter_step(self._last_mc, mc, 256)
            if self._last_mc is None:
                follows[0] = True
            self._last_mc = int(mc[-1])
            back = ~follows & (step >= 128)
            fwd = ~follows & ~back
            st["mc_gaps"] += int(fwd.sum() + back.sum())
            st["mc_frames_lost"] += int((step[fwd] - 1).sum())
            st["mc_out_of_order"] += int(back.sum())
        with_ocf = selected & has_ocf
        if with_ocf.any():
            last = np.nonzero(with_ocf)[0][-1]
            o = flen - 4 - 2 * bool(p.fecf)
            self.last_ocf = int.from_bytes(frames[last, o:o + 4].tobytes(), "big")
        # structure of the frames that get as far as their data field
        data_off_sel = data_off[selected]
        self.ledger.add("frame_header", int(data_off_sel.sum()))
        self.ledger.add("frame_trailer", int(trailer[selected].sum()))
        idle_sel = selected & idle
        st["idle_frames"] += int(idle_sel.sum())
        npd = selected & not_packets
        st["not_packet_data"] += int(npd.sum())
        self.ledger.add_ranges("not_packet_data", offsets[npd] + data_off[npd], offsets[npd] + data_off[npd]
                               + data_len[npd])
        if self.kind == "aos":
            # AOS idle frames are the VC-63 frames; their data field is idle data
            self.ledger.add_ranges("idle_frame", offsets[idle_sel] + data_off[idle_sel],
                                   offsets[idle_sel] + data_off[idle_sel] + data_len[idle_sel])
            packet_frames = selected & ~idle
        else:
            packet_frames = selected & ~not_packets
        gap_flag = np.zeros(n, dtype=bool)
        batches: list[PacketBatch] = []
        for v in np.unique(vcid[packet_frames]).tolist():
            sel = np.nonzero(packet_frames & (vcid == v))[0]
            asm = self.vcs.get(v)
            if asm is None:
                stats = self.vc_stats.setdefault(v, dict.fromkeys(VC_STATS, 0))
                asm = self.vcs[v] = VcAssembler(v, modulus, self.ledger, stats)
            before = asm.stats["vc_gaps"]
            offs = data_off[sel]
            lens = data_len[sel]
            if (offs == offs[0]).all() and (lens == lens[0]).all():
                data = frames[sel, int(offs[0]):int(offs[0] + lens[0])]
                batches.extend(asm.push(data, fhp[sel], counts[sel], idle[sel] if self.kind == "tm"
                                        else np.zeros(sel.size, dtype=bool), index[sel], offsets[sel] + offs))
            else:
                # frames of one VC with different secondary headers: one run per layout
                for k in sel.tolist():
                    o, ln = int(data_off[k]), int(data_len[k])
                    batches.extend(asm.push(frames[k:k + 1, o:o + ln], fhp[k:k + 1], counts[k:k + 1],
                                            idle[k:k + 1] if self.kind == "tm" else np.zeros(1, dtype=bool),
                                            index[k:k + 1], offsets[k:k + 1] + o))
            if asm.stats["vc_gaps"] > before:
                gap_flag[sel[0]] = True
        self.series.append(np.stack([index, vcid, gap_flag.astype(np.int64), (~crc_ok).astype(np.int64)], 1))
        batch = PacketBatch.concat(batches)
        if len(batch) > 1:
            order = np.lexsort((batch.rows["input_offset"], batch.rows["frame"]))
            batch.rows = batch.rows[order]
        return batch

    def finish(self) -> None:
        for asm in self.vcs.values():
            asm.finish()

    def stats(self) -> dict:
        return {"master_channel": dict(self.mc),
                "virtual_channels": {v: dict(s) for v, s in sorted(self.vc_stats.items())},
                "spacecraft_ids": {f"{s:#x}": c for s, c in sorted(self.scids.items())}}


def empty_rows() -> np.ndarray:
    return np.empty(0, dtype=PACKET_DTYPE)
