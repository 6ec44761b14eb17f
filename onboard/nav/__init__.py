"""Navigation: LunaNet AFS navigation frames, interop exchange formats, reference signal and acquisition."""
