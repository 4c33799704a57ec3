"""mean_bone_vectors: the mean over valid pairs, the skeleton default for unknown bones, errors."""

import numpy as np
import pytest

from ssmp3d import H36M17, PANOPTIC19
from ssmp3d.encode import mean_bone_vectors


def test_mean_bone_vectors():
    rng = np.random.default_rng(0)
    joints = rng.normal(0, 300, (5, 19, 3))
    mean = mean_bone_vectors(joints)
    assert mean.dtype == np.float32 and mean.shape == (19, 3)
    np.testing.assert_allclose(mean, PANOPTIC19.bone_vectors(joints).mean(0) / 1000, rtol=1e-5, atol=1e-7)
    assert not mean[PANOPTIC19.pelvis].any()
    valid = np.ones((5, 19), bool)
    valid[:, 5] = False  # wrist never known: skeleton default
    valid[0, 4] = False  # elbow unknown in person 0
    joints[0, 4] = np.nan
    mean = mean_bone_vectors(joints, PANOPTIC19, valid)
    np.testing.assert_array_equal(mean[5], PANOPTIC19.mean_bones_m()[5])
    np.testing.assert_allclose(mean[4], PANOPTIC19.bone_vectors(joints[1:]).mean(0)[4] / 1000, rtol=1e-5)
    with pytest.raises(ValueError, match="joints3d_mm"):
        mean_bone_vectors(joints, H36M17)
    with pytest.raises(ValueError, match="joints3d_mm"):
        mean_bone_vectors(joints)  # NaN in a joint marked valid
    with pytest.raises(ValueError, match="valid3d"):
        mean_bone_vectors(joints, PANOPTIC19, valid[:2])
