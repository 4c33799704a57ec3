"""open_dataset: names to loaders; a bad name lists the choices."""

from __future__ import annotations

import sys
import types

import pytest
from panoptic_tree import build_sequence

from ssmp3d.data.open import DATASETS, open_dataset
from ssmp3d.data.panoptic import PanopticDataset


def test_panoptic_with_options(tmp_path):
    build_sequence(tmp_path, "160906_pizza1", range(4))
    ds = open_dataset("panoptic", tmp_path, "test", sequences=["160906_pizza1"], max_frames=2)
    assert isinstance(ds, PanopticDataset) and len(ds) == 4 and ds.split == "test"


def test_h36m_is_loaded_lazily_with_its_arguments(monkeypatch):
    seen = {}

    class Human36MDataset:
        def __init__(self, root, split="test", **options):
            seen.update(root=root, split=split, **options)

    fake = types.ModuleType("ssmp3d.data.h36m")
    fake.Human36MDataset = Human36MDataset
    monkeypatch.setitem(sys.modules, "ssmp3d.data.h36m", fake)
    ds = open_dataset("h36m", "/data/h36m", "train", subjects=["S1"], every=5, max_frames=None)
    assert isinstance(ds, Human36MDataset)
    assert seen == {"root": "/data/h36m", "split": "train", "subjects": ["S1"], "every": 5, "max_frames": None}


def test_bad_name_lists_the_choices():
    assert DATASETS == ("panoptic", "h36m")
    with pytest.raises(ValueError, match="expected one of panoptic, h36m, got 'coco'"):
        open_dataset("coco", "/data")
