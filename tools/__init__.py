"""The lunarelay command-line tools (installed as the package ``lunarelay_tools``)."""
