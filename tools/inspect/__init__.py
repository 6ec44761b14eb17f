"""``lunarelay inspect``: CCSDS links and packets from files, captures and live inputs, explained.

By role, as gr-satellites keeps its components:

- what an input is: ``detect`` (hypotheses on the first octets), ``link`` (the parameters and the
  flags that pin them), ``session`` (an input through detection and the layers; captures by flow);
- the layers, each on batches with numpy over the C core's batch outputs: ``cadu`` (Viterbi,
  frame sync, derandomizer, Reed-Solomon), ``frames`` (TM/AOS, M_PDU packet extraction), ``tc``
  (TC frames, CLTUs, SDLS), ``packets`` (packet streams and batches), ``serial`` (ASM, KISS and
  SLIP serial frames through the C core's deframer);
- what was found: ``accounting`` (every input octet under one reason), ``stats`` (per APID),
  ``dictionaries`` (the project's, CSV, XTCE; limits in ``limits.toml``), ``headers`` (the
  construct declarations every printed field name and bit layout comes from), ``timecode`` (CUC
  and CDS time codes, their codecs and construct declarations);
- where it goes: ``report`` (terminal tables, summary), ``outputs`` (JSON lines, CSV, Parquet,
  per-APID files, pcapng), ``plots``, ``live`` (live sources and the ``--follow`` dashboard);
- ``command``: the body of the command, from its options.
"""
