"""GVMGen Scoring: video-to-music for editors, with the music's beats on the cuts.

The library has no sockets and no editor APIs; see DESIGN.md for the layers. Heavy imports
(torch, transformers) live in `gvmgen.model` and are never pulled in by the light commands.
"""

__version__ = "0.1.0"
