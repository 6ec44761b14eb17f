"""Run the real ``gr_satellites`` program with Debian's GNU Radio 3.10 item-type fix applied.

Run with the system Python that has GNU Radio (``/usr/bin/python3``):

    /usr/bin/python3 run_gr_satellites.py SATELLITE.yml --rawfile IQ.c64 --iq --samp_rate 48000 ...

Debian's gr-satellites 4.4.0 was built against GNU Radio 3.9, where the item-type enum lived in
gnuradio.blocks; GNU Radio 3.10 moved it to gnuradio.gr.types.  Everything after the script's
name goes to ``gr_satellites`` unchanged.
"""

import runpy
import shutil
import sys

from gnuradio import blocks, gr

if not hasattr(blocks, "byte_t"):
    blocks.byte_t = gr.types.byte_t

program = shutil.which("gr_satellites") or "/usr/bin/gr_satellites"
sys.argv = [program, *sys.argv[1:]]
runpy.run_path(program, run_name="__main__")
