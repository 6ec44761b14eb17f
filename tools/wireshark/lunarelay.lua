-- lunarelay.lua: Wireshark dissectors for the CCSDS links lunarelay captures.
--
--   tshark -X lua_script:tools/wireshark/lunarelay.lua -r link.pcapng -V
--
-- Captures written by hil/capture.py (the bench, `lunarelay inspect --pcapng`) put one unit of a
-- link in each record, on private link types: USER0 CADU, USER1 TM transfer frame (132.0-B-3),
-- USER2 AOS transfer frame (732.0-B-4), USER3 TC transfer frame (232.0-B-4), USER4 CLTU
-- (231.0-B-4), USER5 space packet (133.0-B-2).  The managed parameters a frame does not carry
-- itself (FECF and, for AOS, OCF, FHEC and insert zone; the TC segment header; the CLTU's TC
-- randomizer) come from the interface description, "lunarelay/1 key=value ...".
--
-- Field names and bit layouts are those of lunarelay's construct declarations
-- (tools/inspect/headers.py); the block between the GENERATED markers is written by
-- `python -m lunarelay_tools.inspect.headers` and a test keeps the two equal.

-- BEGIN GENERATED
local LAYOUTS = {
  tm = {
    {"tfvn", 6, 0, 2},
    {"scid", 6, 2, 10},
    {"vcid", 6, 12, 3},
    {"ocf_flag", 6, 15, 1},
    {"mc_count", 6, 16, 8},
    {"vc_count", 6, 24, 8},
    {"sec_hdr_flag", 6, 32, 1},
    {"sync_flag", 6, 33, 1},
    {"packet_order_flag", 6, 34, 1},
    {"segment_length_id", 6, 35, 2},
    {"first_header_pointer", 6, 37, 11},
  },
  aos = {
    {"tfvn", 6, 0, 2},
    {"scid", 6, 2, 8},
    {"vcid", 6, 10, 6},
    {"vc_count", 6, 16, 24},
    {"replay_flag", 6, 40, 1},
    {"vc_count_usage_flag", 6, 41, 1},
    {"spare", 6, 42, 2},
    {"vc_count_cycle", 6, 44, 4},
  },
  mpdu = {
    {"spare", 2, 0, 5},
    {"first_header_pointer", 2, 5, 11},
  },
  tc = {
    {"tfvn", 5, 0, 2},
    {"bypass_flag", 5, 2, 1},
    {"control_command_flag", 5, 3, 1},
    {"spare", 5, 4, 2},
    {"scid", 5, 6, 10},
    {"vcid", 5, 16, 6},
    {"frame_length", 5, 22, 10},
    {"frame_seq_num", 5, 32, 8},
  },
  tcseg = {
    {"seq_flags", 1, 0, 2},
    {"map_id", 1, 2, 6},
  },
  spp = {
    {"version", 6, 0, 3},
    {"type", 6, 3, 1},
    {"sec_hdr_flag", 6, 4, 1},
    {"apid", 6, 5, 11},
    {"seq_flags", 6, 16, 2},
    {"seq_count", 6, 18, 14},
    {"data_length", 6, 32, 16},
  },
  clcw = {
    {"control_word_type", 4, 0, 1},
    {"clcw_version", 4, 1, 2},
    {"status_field", 4, 3, 3},
    {"cop_in_effect", 4, 6, 2},
    {"vcid", 4, 8, 6},
    {"no_rf_available", 4, 16, 1},
    {"no_bit_lock", 4, 17, 1},
    {"lockout", 4, 18, 1},
    {"wait", 4, 19, 1},
    {"retransmit", 4, 20, 1},
    {"farm_b_counter", 4, 21, 2},
    {"report_value", 4, 24, 8},
  },
}
-- END GENERATED

local B = bit32 or bit

local DESCRIPTION = Field.new("frame.interface_description")

local function link_params()
  local out = {}
  local d = DESCRIPTION()
  if d ~= nil then
    local text = tostring(d.value)
    if text:sub(1, 11) == "lunarelay/1" then
      for k, v in text:gmatch("([%w_]+)=(%S+)") do out[k] = v end
    end
  end
  return out
end

local function flag(params, key, default)
  local v = params[key]
  if v == nil then return default end
  return v == "1" or v == "true" or v == "yes"
end

local function number(params, key, default)
  local v = params[key]
  if v == nil then return default end
  return tonumber(v) or default
end

-- unsigned value of `width` bits starting `off` bits into a TvbRange
local function bits(range, off, width)
  local first = math.floor(off / 8)
  local last = math.floor((off + width - 1) / 8)
  local v = 0
  for i = first, last do v = v * 256 + range(i, 1):uint() end
  local shift = 8 * (last - first + 1) - (off % 8) - width
  return math.floor(v / 2 ^ shift) % 2 ^ width
end

local function field_of(layout, name)
  for _, f in ipairs(layout) do
    if f[1] == name then return f end
  end
end

-- ProtoFields of one layout, each with the mask that places it in its octets
local function layout_fields(prefix, layout, list)
  local out = {}
  for _, f in ipairs(layout) do
    local name, off, width = f[1], f[3], f[4]
    local first = math.floor(off / 8)
    local n = math.floor((off + width - 1) / 8) - first + 1
    local shift = 8 * n - (off % 8) - width
    local mask = (2 ^ width - 1) * 2 ^ shift
    if mask == 2 ^ (8 * n) - 1 then mask = nil end
    local ctor = ({ProtoField.uint8, ProtoField.uint16, ProtoField.uint24, ProtoField.uint32})[n]
    local pf = ctor(prefix .. "." .. name, name, base.DEC, nil, mask)
    out[#out + 1] = {field = pf, first = first, n = n}
    list[#list + 1] = pf
  end
  return out
end

local function add_layout(tree, tvb, at, fields)
  for _, f in ipairs(fields) do tree:add(f.field, tvb(at + f.first, f.n)) end
end

-- CRC-16/CCITT-FALSE (generator 0x1021, preset 0xFFFF): the FECF of 132.0-B-3 §4.1.6,
-- 732.0-B-4 §4.1.6 and 232.0-B-4 §4.1.4.2; table driven
local CRC_TABLE = {}
for i = 0, 255 do
  local c = B.lshift(i, 8)
  for _ = 1, 8 do
    if B.band(c, 0x8000) ~= 0 then c = B.bxor(B.band(B.lshift(c, 1), 0xFFFF), 0x1021)
    else c = B.band(B.lshift(c, 1), 0xFFFF) end
  end
  CRC_TABLE[i] = c
end

local function crc16(range, n)
  local crc = 0xFFFF
  for i = 0, n - 1 do
    local idx = B.band(B.bxor(B.rshift(crc, 8), range(i, 1):uint()), 0xFF)
    crc = B.band(B.bxor(B.lshift(crc, 8), CRC_TABLE[idx]), 0xFFFF)
  end
  return crc
end

-- the TC pseudo-randomizer of 231.0-B-4 §6: h(x) = x^8+x^6+x^4+x^3+x^2+x+1, all-ones start
local function tc_derandomize(bytes)
  local reg = 0xFF
  local out = ByteArray.new()
  out:set_size(bytes:len())
  for i = 0, bytes:len() - 1 do
    local r = 0
    for _ = 1, 8 do
      local b = B.band(reg, 1)
      r = B.bor(B.lshift(r, 1), b)
      local fb = B.band(B.bxor(reg, B.rshift(reg, 1), B.rshift(reg, 2), B.rshift(reg, 3), B.rshift(reg, 4),
                               B.rshift(reg, 6)), 1)
      reg = B.bor(B.rshift(reg, 1), B.lshift(fb, 7))
    end
    out:set_index(i, B.bxor(bytes:get_index(i), r))
  end
  return out
end

-- BCH(63,56) parity of 7 information octets, complemented, filler bit 0 (231.0-B-4 §3.2)
local function bch_parity(range)
  local reg = 0
  for i = 0, 6 do
    local byte = range(i, 1):uint()
    for k = 7, 0, -1 do
      local fb = B.bxor(B.band(B.rshift(reg, 6), 1), B.band(B.rshift(byte, k), 1))
      reg = B.band(B.lshift(reg, 1), 0x7F)
      if fb ~= 0 then reg = B.bxor(reg, 0x45) end   -- g(x) = x^7 + x^6 + x^2 + 1
    end
  end
  return B.lshift(B.band(B.bnot(reg), 0x7F), 1)
end

-- protocols -------------------------------------------------------------------------------------
local p_tm = Proto("lunarelay.tm", "CCSDS TM Transfer Frame (lunarelay)")
local p_aos = Proto("lunarelay.aos", "CCSDS AOS Transfer Frame (lunarelay)")
local p_tc = Proto("lunarelay.tc", "CCSDS TC Transfer Frame (lunarelay)")
local p_cltu = Proto("lunarelay.cltu", "CCSDS CLTU (lunarelay)")
local p_spp = Proto("lunarelay.spp", "CCSDS Space Packet (lunarelay)")
local p_cadu = Proto("lunarelay.cadu", "CCSDS CADU (lunarelay)")
local p_clcw = Proto("lunarelay.clcw", "CCSDS CLCW (lunarelay)")
local p_mpdu = Proto("lunarelay.mpdu", "CCSDS AOS M_PDU header (lunarelay)")
local p_tcseg = Proto("lunarelay.tcseg", "CCSDS TC segment header (lunarelay)")

local tm_list, aos_list, tc_list, cltu_list, spp_list, cadu_list, clcw_list, mpdu_list, seg_list =
  {}, {}, {}, {}, {}, {}, {}, {}, {}
local TM = layout_fields("lunarelay.tm", LAYOUTS.tm, tm_list)
local AOS = layout_fields("lunarelay.aos", LAYOUTS.aos, aos_list)
local MPDU = layout_fields("lunarelay.mpdu", LAYOUTS.mpdu, mpdu_list)
local TC = layout_fields("lunarelay.tc", LAYOUTS.tc, tc_list)
local TCSEG = layout_fields("lunarelay.tcseg", LAYOUTS.tcseg, seg_list)
local SPP = layout_fields("lunarelay.spp", LAYOUTS.spp, spp_list)
local CLCW = layout_fields("lunarelay.clcw", LAYOUTS.clcw, clcw_list)

local function trailer_fields(prefix, list)
  local f = {
    sec = ProtoField.bytes(prefix .. ".secondary_header", "secondary header"),
    data = ProtoField.bytes(prefix .. ".data", "data field"),
    ocf = ProtoField.uint32(prefix .. ".ocf", "operational control field", base.HEX),
    fecf = ProtoField.uint16(prefix .. ".fecf", "frame error control field", base.HEX),
    fecf_ok = ProtoField.uint8(prefix .. ".fecf_ok", "FECF matches (1) or not (0)"),
  }
  for _, k in ipairs({"sec", "data", "ocf", "fecf", "fecf_ok"}) do list[#list + 1] = f[k] end
  return f
end
local TMX = trailer_fields("lunarelay.tm", tm_list)
local AOSX = trailer_fields("lunarelay.aos", aos_list)
local TCX = trailer_fields("lunarelay.tc", tc_list)
local AOS_FHEC = ProtoField.uint16("lunarelay.aos.fhec", "frame header error control", base.HEX)
local AOS_IZ = ProtoField.bytes("lunarelay.aos.insert_zone", "insert zone")
aos_list[#aos_list + 1] = AOS_FHEC
aos_list[#aos_list + 1] = AOS_IZ
local SPP_DATA = ProtoField.bytes("lunarelay.spp.data", "packet data field")
spp_list[#spp_list + 1] = SPP_DATA
local CLTU_F = {
  start = ProtoField.uint16("lunarelay.cltu.start_sequence", "start sequence", base.HEX),
  codeblocks = ProtoField.uint32("lunarelay.cltu.codeblocks", "codeblocks"),
  codeblock = ProtoField.bytes("lunarelay.cltu.codeblock", "codeblock"),
  bch_errors = ProtoField.uint32("lunarelay.cltu.bch_errors", "codeblocks whose parity does not match"),
  tail = ProtoField.uint8("lunarelay.cltu.tail", "tail sequence present (1) or not (0)"),
}
for _, k in ipairs({"start", "codeblocks", "codeblock", "bch_errors", "tail"}) do cltu_list[#cltu_list + 1] = CLTU_F[k] end
local CADU_F = {
  asm = ProtoField.uint32("lunarelay.cadu.asm", "attached sync marker", base.HEX),
  codeblock = ProtoField.bytes("lunarelay.cadu.codeblock", "coded frame"),
}
cadu_list[1], cadu_list[2] = CADU_F.asm, CADU_F.codeblock

p_tm.fields, p_aos.fields, p_tc.fields, p_cltu.fields = tm_list, aos_list, tc_list, cltu_list
p_spp.fields, p_cadu.fields, p_clcw.fields, p_mpdu.fields, p_tcseg.fields =
  spp_list, cadu_list, clcw_list, mpdu_list, seg_list

local function add_fecf(tree, tvb, n, fx)
  local fecf = tvb(n - 2, 2)
  tree:add(fx.fecf, fecf)
  local ok = crc16(tvb, n - 2) == fecf:uint() and 1 or 0
  tree:add(fx.fecf_ok, ok):set_generated()
  return ok
end

local function add_ocf(tree, tvb, at, fx)
  local ocf = tvb(at, 4)
  local item = tree:add(fx.ocf, ocf)
  if B.band(ocf(0, 1):uint(), 0x80) == 0 then          -- control word type 0: a CLCW (232.0-B-4 §4.2.1)
    add_layout(item:add(p_clcw, ocf), tvb, at, CLCW)
  end
end

-- TM: 132.0-B-3 §4.1
function p_tm.dissector(tvb, pinfo, tree)
  local prm = link_params()
  local n = tvb:len()
  if n < 6 then return 0 end
  pinfo.cols.protocol = "CCSDS TM"
  local t = tree:add(p_tm, tvb())
  add_layout(t, tvb, 0, TM)
  local h = tvb(0, 6)
  local ocf = bits(h, field_of(LAYOUTS.tm, "ocf_flag")[3], 1) == 1
  local sec = bits(h, field_of(LAYOUTS.tm, "sec_hdr_flag")[3], 1) == 1
  local fecf = flag(prm, "fecf", true)
  local at = 6
  if sec and n > 6 then
    local len = B.band(tvb(6, 1):uint(), 0x3F) + 1
    t:add(TMX.sec, tvb(6, len))
    at = at + len
  end
  local stop = n - (ocf and 4 or 0) - (fecf and 2 or 0)
  if stop > at then t:add(TMX.data, tvb(at, stop - at)) end
  if ocf then add_ocf(t, tvb, stop, TMX) end
  if fecf then add_fecf(t, tvb, n, TMX) end
  pinfo.cols.info = string.format("SCID %d VC %d MC %d VC count %d FHP %d",
    bits(h, 2, 10), bits(h, 12, 3), bits(h, 16, 8), bits(h, 24, 8), bits(h, 37, 11))
  return n
end

-- AOS: 732.0-B-4 §4.1
function p_aos.dissector(tvb, pinfo, tree)
  local prm = link_params()
  local n = tvb:len()
  if n < 8 then return 0 end
  pinfo.cols.protocol = "CCSDS AOS"
  local t = tree:add(p_aos, tvb())
  add_layout(t, tvb, 0, AOS)
  local at = 6
  if flag(prm, "fhec", false) then t:add(AOS_FHEC, tvb(6, 2)); at = 8 end
  local iz = number(prm, "insert_zone", 0)
  if iz > 0 then t:add(AOS_IZ, tvb(at, iz)); at = at + iz end
  local ocf, fecf = flag(prm, "ocf", false), flag(prm, "fecf", true)
  local stop = n - (ocf and 4 or 0) - (fecf and 2 or 0)
  local vcid = bits(tvb(0, 6), 10, 6)
  if vcid ~= 63 and stop >= at + 2 then                  -- VC 63 is idle data (§4.1.2.3)
    add_layout(t:add(p_mpdu, tvb(at, 2)), tvb, at, MPDU)
    at = at + 2
  end
  if stop > at then t:add(AOSX.data, tvb(at, stop - at)) end
  if ocf then add_ocf(t, tvb, stop, AOSX) end
  if fecf then add_fecf(t, tvb, n, AOSX) end
  pinfo.cols.info = string.format("SCID %d VC %d VC count %d", bits(tvb(0, 6), 2, 8), vcid, bits(tvb(0, 6), 16, 24))
  return n
end

-- TC: 232.0-B-4 §4.1
function p_tc.dissector(tvb, pinfo, tree)
  local prm = link_params()
  local n = tvb:len()
  if n < 5 then return 0 end
  pinfo.cols.protocol = "CCSDS TC"
  local t = tree:add(p_tc, tvb())
  add_layout(t, tvb, 0, TC)
  local length = bits(tvb(0, 5), 22, 10) + 1
  if length < n then n = length end
  local fecf = flag(prm, "fecf", true)
  local at = 5
  local control = bits(tvb(0, 5), 3, 1) == 1
  if flag(prm, "segment_header", false) and not control and n > at then
    add_layout(t:add(p_tcseg, tvb(at, 1)), tvb, at, TCSEG)
    at = at + 1
  end
  local stop = n - (fecf and 2 or 0)
  if stop > at then t:add(TCX.data, tvb(at, stop - at)) end
  if fecf and n >= 7 then add_fecf(t, tvb, n, TCX) end
  pinfo.cols.info = string.format("SCID %d VC %d N(S) %d", bits(tvb(0, 5), 6, 10), bits(tvb(0, 5), 16, 6),
                                  bits(tvb(0, 5), 32, 8))
  return tvb:len()
end

-- CLTU: 231.0-B-4 §5: start sequence EB90, BCH codeblocks, tail C5C5C5C5C5C5C579
function p_cltu.dissector(tvb, pinfo, tree)
  local prm = link_params()
  local n = tvb:len()
  if n < 2 then return 0 end
  pinfo.cols.protocol = "CCSDS CLTU"
  local t = tree:add(p_cltu, tvb())
  t:add(CLTU_F.start, tvb(0, 2))
  local at, blocks, errors, tail = 2, 0, 0, 0
  local info = ByteArray.new()
  while at + 8 <= n do
    local block = tvb(at, 8)
    if block:bytes():tohex() == "C5C5C5C5C5C5C579" then tail = 1; break end
    t:add(CLTU_F.codeblock, block)
    if bch_parity(block) ~= block(7, 1):uint() then errors = errors + 1 end
    info:append(block(0, 7):bytes())
    blocks = blocks + 1
    at = at + 8
  end
  t:add(CLTU_F.codeblocks, blocks):set_generated()
  t:add(CLTU_F.bch_errors, errors):set_generated()
  t:add(CLTU_F.tail, tail):set_generated()
  if blocks > 0 then
    local frame = flag(prm, "randomize", true) and tc_derandomize(info) or info
    p_tc.dissector(frame:tvb("TC frame"), pinfo, tree)
  end
  return n
end

-- space packet: 133.0-B-2 §4.1
function p_spp.dissector(tvb, pinfo, tree)
  local n = tvb:len()
  if n < 6 then return 0 end
  pinfo.cols.protocol = "CCSDS SPP"
  local t = tree:add(p_spp, tvb())
  add_layout(t, tvb, 0, SPP)
  if n > 6 then t:add(SPP_DATA, tvb(6, n - 6)) end
  pinfo.cols.info = string.format("APID %d seq %d", bits(tvb(0, 6), 5, 11), bits(tvb(0, 6), 18, 14))
  return n
end

-- CADU: 131.0-B-4 §9 (the coded frame is shown as it is: RS and randomizer are not undone here)
function p_cadu.dissector(tvb, pinfo, tree)
  local n = tvb:len()
  if n < 4 then return 0 end
  pinfo.cols.protocol = "CCSDS CADU"
  local t = tree:add(p_cadu, tvb())
  t:add(CADU_F.asm, tvb(0, 4))
  if n > 4 then t:add(CADU_F.codeblock, tvb(4, n - 4)) end
  return n
end

local encap = DissectorTable.get("wtap_encap")
local E = wtap_encaps or wtap
encap:add(E.USER0, p_cadu)
encap:add(E.USER1, p_tm)
encap:add(E.USER2, p_aos)
encap:add(E.USER3, p_tc)
encap:add(E.USER4, p_cltu)
encap:add(E.USER5, p_spp)
