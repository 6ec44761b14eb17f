"""Display sources of ``lunarelay inspect``: construct declarations of the CCSDS headers, time codes."""
