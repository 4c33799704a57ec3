"""Tree path lengths of a skeleton (``ssmp3d.bones``)."""

from __future__ import annotations

import numpy as np
import pytest

from ssmp3d.bones import MIN_BONE_M, tree_geometry
from ssmp3d.skeleton import H36M17, PANOPTIC19


@pytest.mark.parametrize("skeleton", [PANOPTIC19, H36M17], ids=lambda s: s.name)
def test_path_lengths_sum_the_bones_between_joints(skeleton):
    bones = skeleton.mean_bones_m()
    tree = tree_geometry(skeleton.parents, skeleton.topological_order, bones)
    length = np.maximum(np.linalg.norm(bones.astype(np.float64), axis=1), MIN_BONE_M)
    k = skeleton.num_joints
    assert tree.path.shape == (k, k) and (np.diag(tree.path) == 0).all()
    np.testing.assert_array_equal(tree.path, tree.path.T)
    for j in range(k):
        p = skeleton.parents[j]
        if p >= 0:
            assert tree.path[j, p] == pytest.approx(length[j])
            for i in range(k):  # the triangle inequality holds with equality through the parent
                assert tree.path[i, j] <= tree.path[i, p] + length[j] + 1e-12
    assert (tree.path[~np.eye(k, dtype=bool)] > 0).all()
    assert not tree.path.flags.writeable and tree.order.tolist() == list(skeleton.topological_order)


def test_panoptic_examples():
    tree = tree_geometry(PANOPTIC19.parents, PANOPTIC19.topological_order, PANOPTIC19.mean_bones_m())
    j = PANOPTIC19.joints.index
    bones = np.linalg.norm(PANOPTIC19.mean_bones_m().astype(np.float64), axis=1)
    # l_wrist to r_wrist: forearm, upper arm, shoulder, shoulder, upper arm, forearm.
    want = sum(bones[j(n)] for n in ("l_wrist", "l_elbow", "l_shoulder", "r_shoulder", "r_elbow", "r_wrist"))
    assert tree.path[j("l_wrist"), j("r_wrist")] == pytest.approx(want)


def test_zero_bones_are_clamped():
    tree = tree_geometry([-1, 0, 1], [0, 1, 2], np.zeros((3, 3)))
    assert tree.path[0, 2] == pytest.approx(2 * MIN_BONE_M)


@pytest.mark.parametrize("parents, order, match", [
    ([-1, 0, 1], [1, 0, 2], "order"),       # child before its parent
    ([-1, 0, 1], [0, 1], "order"),          # a joint missing
    ([-1, -1, 1], [0, 1, 2], "root"),       # two roots
    ([1, 0], [0, 1], "order"),              # a cycle
    ([-1, 0, 5], [0, 1, 2], "order"),       # parent out of range
])
def test_bad_trees(parents, order, match):
    with pytest.raises(ValueError, match=match):
        tree_geometry(parents, order, np.full((len(parents), 3), 0.1))


def test_bad_bones():
    with pytest.raises(ValueError, match="mean_bones"):
        tree_geometry([-1, 0], [0, 1], np.full((2, 2), 0.1))
    with pytest.raises(ValueError, match="mean_bones"):
        tree_geometry([-1, 0], [0, 1], np.array([[0.0, 0, 0], [np.nan, 0, 0]]))
