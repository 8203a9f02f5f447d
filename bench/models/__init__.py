"""Models that archbench defines itself (tiny test models, later hand-written architectures)."""
