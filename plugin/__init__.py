"""Editor integrations (import name gvmgen_plugin). Not built yet: see DESIGN.md."""
