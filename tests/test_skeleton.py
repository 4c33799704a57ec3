import numpy as np
import pytest

from ssmp3d.skeleton import H36M17, PANOPTIC19, Skeleton, get_skeleton


def test_panoptic19_order_and_tree():
    s = PANOPTIC19
    assert s.joints[:3] == ("neck", "nose", "pelvis")
    assert s.joints[5] == "l_wrist" and s.joints[14] == "r_ankle" and s.joints[18] == "r_ear"
    assert (s.neck, s.pelvis) == (0, 2)
    assert s.parents[s.pelvis] == -1 and s.parents[s.neck] == s.pelvis
    name = dict(enumerate(s.joints))
    parent_names = {name[j]: name.get(p) for j, p in enumerate(s.parents)}
    assert parent_names["l_ear"] == "l_eye" and parent_names["l_eye"] == "nose"
    assert parent_names["nose"] == "neck" and parent_names["r_wrist"] == "r_elbow"
    assert parent_names["l_hip"] == "pelvis" and parent_names["r_shoulder"] == "neck"
    assert s.limbs == ((5, 4, 3), (11, 10, 9), (8, 7, 6), (14, 13, 12), (16, 18, 15, 17, 1))


def test_h36m17_order_right_leg_first():
    s = H36M17
    assert s.joints[1:4] == ("r_hip", "r_knee", "r_ankle")
    assert s.joints[4:7] == ("l_hip", "l_knee", "l_ankle")
    assert s.joints[11:17] == ("l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist")
    assert s.pelvis == 0 and s.joints[s.neck] == "thorax"
    assert s.parents[s.neck] == 7  # thorax <- spine


@pytest.mark.parametrize("s", [PANOPTIC19, H36M17])
def test_topological_order_and_flip(s):
    order = s.topological_order
    assert sorted(order) == list(range(s.num_joints)) and order[0] == s.pelvis
    pos = {j: i for i, j in enumerate(order)}
    assert all(pos[p] < pos[j] for j, p in enumerate(s.parents) if p >= 0)
    perm = s.flip_permutation()
    assert np.array_equal(perm[perm], np.arange(s.num_joints))
    for a, b in s.flip_pairs:
        assert {s.joints[a][:2], s.joints[b][:2]} == {"l_", "r_"} and s.joints[a][2:] == s.joints[b][2:]


def test_readout_chain():
    s = PANOPTIC19
    assert s.readout_chain(5) == (5, 4, 3, 0, 2)  # wrist: own, limb walk, neck, pelvis
    assert s.readout_chain(4) == (4, 5, 3, 0, 2)  # elbow: own, then limb from the extremity
    assert s.readout_chain(0) == (0, 2)
    assert s.readout_chain(2) == (2, 0)
    assert s.readout_chain(1) == (1, 16, 18, 15, 17, 0, 2)
    sets = s.readout_sets()
    assert sets[5].sum() == 5 and sets[0].sum() == 2 and sets[5, 3] and not sets[5, 9]


def test_mean_bones_and_bone_vectors():
    s = PANOPTIC19
    bones = s.mean_bones_m()
    assert bones.shape == (19, 3) and bones.dtype == np.float32
    assert np.all(bones[s.pelvis] == 0)
    pose = np.asarray(s.mean_pose_mm)
    # Summing bones down the tree recovers the pose.
    rec = np.zeros_like(pose)
    for j in s.topological_order:
        if s.parents[j] >= 0:
            rec[j] = rec[s.parents[j]] + bones[j] * 1000.0
    np.testing.assert_allclose(rec, pose, atol=1e-3)


def test_bad_skeletons_and_names():
    with pytest.raises(ValueError, match="skeleton"):
        get_skeleton("coco17")
    with pytest.raises(ValueError, match="root"):
        Skeleton("x", ("a", "b"), (-1, -1), (), (), 0, 1, (), ((0, 0, 0), (0, 0, 0)))
    with pytest.raises(ValueError, match="limb"):
        Skeleton("x", ("p", "n", "a"), (-1, 0, 1), ((2, 0),), ("l",), 1, 0, (),
                 ((0, 0, 0),) * 3)
