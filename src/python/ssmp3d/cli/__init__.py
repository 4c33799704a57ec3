"""The ``ssmp3d`` command line: a thin layer over the library (DESIGN.md section 11)."""
