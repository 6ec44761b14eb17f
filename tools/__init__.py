"""The ``lunarelay`` command (installed as the package ``lunarelay_tools``): one module per
subcommand (``commands``), the benchmark suites (``bench``) and the display sources of
``lunarelay inspect`` (``inspect``)."""
