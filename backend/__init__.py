"""The ZeroMQ scoring service (import name gvmgen_backend). Not built yet: see DESIGN.md."""
