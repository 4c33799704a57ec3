"""The ``ssmp3d`` command line: a thin layer over the library (DESIGN.md section 11).

Importing this package, which the ``ssmp3d`` command does before torch
loads, sets ``OMP_WAIT_POLICY=PASSIVE`` unless the environment sets it: idle
OpenMP workers of torch then sleep instead of spinning on cores that the
decoder or another process needs (the thread rule of
:mod:`ssmp3d.predict.threads`).
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
