"""The fast paths of `lunarelay inspect`'s exports give what the plain paths give: Parquet row groups
written while decoding goes on hold the same rows as a directory written whole at the end."""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest

from lunarelay_tools.bench.inspect import hk_packet_file
from lunarelay_tools.inspect import command
from lunarelay_tools.inspect import outputs as out_mod
from lunarelay_tools.inspect.dictionaries import project_dictionary
from lunarelay_tools.inspect.outputs import Outputs, ParquetWriter
from lunarelay_tools.inspect.session import Options


@pytest.fixture(scope="module")
def hk_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("hk") / "hk.pkt")
    hk_packet_file(path, 20_000)
    return path


def _inspect(path: str, writer) -> None:
    outputs = Outputs(project_dictionary())
    outputs.add(writer)
    try:
        _, ok, _ = command.inspect_file(path, Options(), outputs, outputs.dictionary)
    finally:
        outputs.close()
    assert ok


def test_parquet_row_groups_written_during_decoding_hold_the_rows_of_a_whole_write(hk_file, tmp_path,
                                                                                   monkeypatch):
    whole, streamed = str(tmp_path / "whole"), str(tmp_path / "streamed")
    _inspect(hk_file, ParquetWriter(whole))
    # the file read in small pieces (after detection's first 512 KiB): many batches, the flush
    # threshold crossed again and again
    monkeypatch.setattr(command, "PIECE", 50_000)
    monkeypatch.setattr(out_mod, "FLUSH_ROWS", 500)
    _inspect(hk_file, ParquetWriter(streamed))
    names = sorted(os.listdir(whole))
    assert names == sorted(os.listdir(streamed)) and len(names) > 3
    groups = 0
    for name in names:
        a, b = pq.read_table(os.path.join(whole, name)), pq.read_table(os.path.join(streamed, name))
        assert a.schema == b.schema
        assert a.num_rows > 0 and a.equals(b), name
        groups += pq.ParquetFile(os.path.join(streamed, name)).metadata.num_row_groups
    assert groups > 2 * len(names)          # the streamed files were written in several row groups
