"""ORPM read-out (DESIGN.md section 6.4): validity, the fallback chain, naive mode, 3D sums."""

from __future__ import annotations

import numpy as np
import pytest

from ssmp3d.decoding import DecodeConfig, ReadoutRule
from ssmp3d.decoding.readout import readout, readout_validity
from ssmp3d.skeleton import H36M17, PANOPTIC19

S = PANOPTIC19
K = S.num_joints
H, W = 60, 90
NECK, PELVIS = S.neck, S.pelvis
L_SHOULDER, L_ELBOW, L_WRIST = 3, 4, 5
NOSE, L_EYE, L_EAR, R_EYE, R_EAR = 1, 15, 16, 17, 18
R_KNEE = 13
RNG = np.random.default_rng(7)
ORPM = RNG.normal(size=(K, 3, H, W)).astype(np.float32)


def scene(num_people: int = 2):
    """People whose joints lie on a grid 8 px apart; person ``p`` is 30 px lower.

    Returns ``positions [Q, K, 2]`` int64, ``scores [Q, K]`` float32 (0.9) and
    ``detected [Q, K]`` (all True).
    """
    j = np.arange(K)
    pos = np.stack([3 + 8 * (j % 10), 3 + 10 * (j // 10)], axis=-1)
    positions = np.stack([pos + [0, 30 * p] for p in range(num_people)]).astype(np.int64)
    scores = np.full((num_people, K), 0.9, np.float32)
    detected = np.ones((num_people, K), bool)
    return positions, scores, detected


def run(positions, scores, detected, people=(0,), orpm=ORPM, skeleton=S, **cfg):
    return readout(orpm, positions, scores, detected, np.asarray(people), skeleton, DecodeConfig(**cfg))


def expected_3d(bones: np.ndarray, skeleton=S) -> np.ndarray:
    """Independent float32 sum of bone vectors (metres) down the tree, in mm."""
    out = np.zeros((skeleton.num_joints, 3), np.float32)
    done = {skeleton.pelvis}

    def place(j):
        if j in done:
            return out[j]
        out[j] = place(skeleton.parents[j]) + bones[j] * np.float32(1000)
        done.add(j)
        return out[j]

    for j in range(skeleton.num_joints):
        place(j)
    return out


def at(pos, j, l):
    """ORPM vector of map ``j`` at the location of joint ``l``."""
    x, y = pos[l]
    return ORPM[j, :, y, x]


def test_all_valid_reads_own_position_and_root_is_zero():
    pos, sc, det = scene()
    ro = run(pos, sc, det, people=(0, 1))
    for p in range(2):
        for j in range(K):
            if j == PELVIS:
                assert ro.rule[p, j] == ReadoutRule.ROOT and ro.joint[p, j] == -1
                np.testing.assert_array_equal(ro.joints3d[p, j], 0)
            else:
                assert ro.rule[p, j] == ReadoutRule.OWN and ro.joint[p, j] == j
                np.testing.assert_array_equal(ro.bones[p, j], at(pos[p], j, j))
        np.testing.assert_array_equal(ro.joints3d[p], expected_3d(ro.bones[p]))
    assert ro.joints3d.dtype == np.float32 and ro.rule.dtype == np.int8 and ro.joint.dtype == np.int16


def test_limb_fallback_walks_from_the_extremity():
    pos, sc, det = scene()
    sc[0, L_ELBOW] = 0.05
    ro = run(pos, sc, det)
    # The elbow reads at the wrist (extremity first), not at the shoulder.
    assert ro.rule[0, L_ELBOW] == ReadoutRule.LIMB and ro.joint[0, L_ELBOW] == L_WRIST
    np.testing.assert_array_equal(ro.bones[0, L_ELBOW], at(pos[0], L_ELBOW, L_WRIST))
    assert ro.rule[0, L_WRIST] == ReadoutRule.OWN and ro.rule[0, L_SHOULDER] == ReadoutRule.OWN
    det[0, L_WRIST] = False
    ro = run(pos, sc, det)
    assert ro.joint[0, L_ELBOW] == L_SHOULDER and ro.rule[0, L_ELBOW] == ReadoutRule.LIMB
    assert ro.joint[0, L_WRIST] == L_SHOULDER and ro.rule[0, L_WRIST] == ReadoutRule.LIMB
    np.testing.assert_array_equal(ro.bones[0, L_WRIST], at(pos[0], L_WRIST, L_SHOULDER))


def test_head_limb_order():
    pos, sc, det = scene()
    det[0, NOSE] = False
    ro = run(pos, sc, det)
    assert ro.joint[0, NOSE] == L_EAR and ro.rule[0, NOSE] == ReadoutRule.LIMB
    np.testing.assert_array_equal(ro.bones[0, NOSE], at(pos[0], NOSE, L_EAR))
    det[0, L_EAR] = False
    assert run(pos, sc, det).joint[0, NOSE] == R_EAR
    sc[0, R_EAR] = 0.0
    assert run(pos, sc, det).joint[0, NOSE] == L_EYE
    det[0, [L_EYE, R_EYE]] = False
    ro = run(pos, sc, det)
    assert ro.joint[0, NOSE] == NECK and ro.rule[0, NOSE] == ReadoutRule.NECK


def test_score_exactly_at_threshold_is_invalid():
    pos, sc, det = scene()
    sc[0, L_ELBOW] = np.float32(0.1)
    assert run(pos, sc, det, readout_threshold=0.1).joint[0, L_ELBOW] == L_WRIST
    sc[0, L_ELBOW] = np.nextafter(np.float32(0.1), np.float32(1))
    assert run(pos, sc, det, readout_threshold=0.1).joint[0, L_ELBOW] == L_ELBOW


def test_torso_then_mean_fallbacks():
    pos, sc, det = scene()
    det[0, [L_SHOULDER, L_ELBOW, L_WRIST]] = [False, True, False]
    sc[0, L_ELBOW] = 0.0
    ro = run(pos, sc, det)
    assert ro.rule[0, L_ELBOW] == ReadoutRule.NECK and ro.joint[0, L_ELBOW] == NECK
    np.testing.assert_array_equal(ro.bones[0, L_ELBOW], at(pos[0], L_ELBOW, NECK))
    # Undetected joints are read too (the shoulder at the neck).
    assert ro.rule[0, L_SHOULDER] == ReadoutRule.NECK
    sc[0, NECK] = 0.0
    ro = run(pos, sc, det)
    assert ro.rule[0, L_ELBOW] == ReadoutRule.PELVIS and ro.joint[0, L_ELBOW] == PELVIS
    np.testing.assert_array_equal(ro.bones[0, L_ELBOW], at(pos[0], L_ELBOW, PELVIS))
    # The neck itself: own position invalid -> pelvis.
    assert ro.rule[0, NECK] == ReadoutRule.PELVIS
    det[0, PELVIS] = False
    ro = run(pos, sc, det)
    mean = S.mean_bones_m()
    for j in (L_SHOULDER, L_ELBOW, L_WRIST, NECK):
        assert ro.rule[0, j] == ReadoutRule.MEAN and ro.joint[0, j] == -1
        np.testing.assert_array_equal(ro.bones[0, j], mean[j])
    # The pelvis stays the root even when not detected.
    assert ro.rule[0, PELVIS] == ReadoutRule.ROOT
    np.testing.assert_array_equal(ro.joints3d[0], expected_3d(ro.bones[0]))


def test_config_mean_bones_are_the_last_fallback():
    pos, sc, det = scene(1)
    det[:] = False
    mean = RNG.normal(size=(K, 3)).round(3)
    ro = run(pos, sc, det, mean_bones=tuple(map(tuple, mean)))
    assert set(ro.rule[0].tolist()) == {ReadoutRule.MEAN, ReadoutRule.ROOT}
    want = mean.astype(np.float32)
    want[PELVIS] = 0
    np.testing.assert_array_equal(ro.bones[0], want)
    np.testing.assert_array_equal(ro.joints3d[0], expected_3d(want))


@pytest.mark.parametrize(
    ("offset", "valid"),
    [((0, 2), False), ((2, 2), False), ((0, 0), False), ((0, 3), True), ((3, 0), True), ((2, 3), True)],
)
def test_nearby_other_person_invalidates_location(offset, valid):
    pos, sc, det = scene()
    # Person 1's neck (a read-out location of map l_elbow) near person 0's elbow.
    pos[1, NECK] = pos[0, L_ELBOW] + offset
    det[1, [L_SHOULDER, L_ELBOW, L_WRIST]] = False
    sc[1, NECK] = 0.2  # above the threshold: valid for person 1 unless crowded
    sc[0, L_ELBOW] = 0.11  # above the threshold, whatever other locations score
    ro = run(pos, sc, det, people=(0, 1), readout_min_dist=3.0)
    assert ro.joint[0, L_ELBOW] == (L_ELBOW if valid else L_WRIST)
    # Symmetric: person 1's neck is invalid for map l_elbow (person 0's elbow is
    # one of that map's locations) but still valid for map neck (person 0's
    # elbow is not a location of map neck).
    assert ro.joint[1, L_ELBOW] == (NECK if valid else PELVIS)
    assert ro.joint[1, NECK] == NECK


def test_other_location_counts_whatever_its_score():
    pos, sc, det = scene()
    pos[1, NECK] = pos[0, L_ELBOW] + (1, 0)
    sc[1, NECK] = 0.01
    ro = run(pos, sc, det, people=(0, 1))
    assert ro.joint[0, L_ELBOW] == L_WRIST


def test_nearby_joint_outside_the_readout_set_does_not_invalidate():
    pos, sc, det = scene()
    pos[1, R_KNEE] = pos[0, L_ELBOW] + (1, 0)
    ro = run(pos, sc, det, people=(0, 1))
    assert ro.joint[0, L_ELBOW] == L_ELBOW  # r_knee is not a location of map l_elbow
    assert ro.joint[1, R_KNEE] == R_KNEE  # and l_elbow is not one of map r_knee
    pos[1, NECK] = pos[0, L_ELBOW] + (1, 0)
    ro = run(pos, sc, det, people=(0, 1))
    # Map l_elbow: person 1's neck and person 0's elbow are both its locations.
    assert ro.joint[0, L_ELBOW] == L_WRIST
    assert ro.joint[1, L_ELBOW] == L_ELBOW  # person 1's own elbow is far from person 0
    assert ro.joint[1, NECK] == NECK  # map neck: person 0's elbow is not one of its locations


def test_dropped_people_still_invalidate():
    pos, sc, det = scene(3)
    pos[2, NECK] = pos[0, L_ELBOW] + (1, 1)
    det[2] = False
    det[2, NECK] = True  # a one-joint person, not read out (not in `people`)
    ro = run(pos, sc, det, people=(0,))
    assert ro.joint[0, L_ELBOW] == L_WRIST
    det[2, NECK] = False  # undetected joints are not locations
    assert run(pos, sc, det, people=(0,)).joint[0, L_ELBOW] == L_ELBOW


def test_min_dist_zero_disables_the_proximity_test():
    pos, sc, det = scene()
    pos[1, NECK] = pos[0, L_ELBOW]
    assert run(pos, sc, det, readout_min_dist=0.0).joint[0, L_ELBOW] == L_ELBOW
    assert run(pos, sc, det, readout_min_dist=0.5).joint[0, L_ELBOW] == L_WRIST


def test_validity_matrix():
    pos, sc, det = scene()
    pos[1, NECK] = pos[0, L_ELBOW] + (0, 1)
    sc[0, L_WRIST] = 0.0
    det[0, NOSE] = False
    v = readout_validity(pos, sc, det, S, DecodeConfig())
    assert v.shape == (2, K, K) and v.dtype == bool
    assert not v[0, L_WRIST].any() and not v[0, NOSE].any()
    # Person 0's elbow is invalid for every map m whose locations include the
    # neck (all of them); person 1's neck for the maps that use the l_elbow.
    sets = S.readout_sets()
    np.testing.assert_array_equal(v[0, L_ELBOW], ~sets[:, NECK])
    np.testing.assert_array_equal(v[1, NECK], ~sets[:, L_ELBOW])
    np.testing.assert_array_equal(np.flatnonzero(~v[1, NECK]), [L_SHOULDER, L_ELBOW, L_WRIST])
    assert v[1, L_ELBOW].all() and v[0, NECK].all()


def test_naive_reads_own_position_only():
    pos, sc, det = scene()
    sc[0, L_ELBOW] = 0.0  # low score: naive mode does not care
    pos[1, NECK] = pos[0, L_WRIST]  # nor about other people
    det[0, L_SHOULDER] = False
    ro = run(pos, sc, det, people=(0,), readout="naive")
    assert ro.rule[0, L_ELBOW] == ReadoutRule.OWN and ro.joint[0, L_ELBOW] == L_ELBOW
    assert ro.rule[0, L_WRIST] == ReadoutRule.OWN
    assert ro.rule[0, L_SHOULDER] == ReadoutRule.MEAN and ro.joint[0, L_SHOULDER] == -1
    np.testing.assert_array_equal(ro.bones[0, L_SHOULDER], S.mean_bones_m()[L_SHOULDER])
    assert ro.rule[0, PELVIS] == ReadoutRule.ROOT
    np.testing.assert_array_equal(ro.joints3d[0], expected_3d(ro.bones[0]))


def test_3d_sum_down_the_tree_with_known_bones():
    # Constant ORPM maps: map j holds bone (j, -j, 0.5 j) / 100 metres everywhere.
    bones = np.stack([np.arange(K), -np.arange(K), 0.5 * np.arange(K)], -1).astype(np.float32) / 100
    orpm = np.broadcast_to(bones[:, :, None, None], (K, 3, H, W))
    pos, sc, det = scene(1)
    ro = run(pos, sc, det, orpm=orpm)
    # l_wrist = pelvis + neck + l_shoulder + l_elbow + l_wrist bones.
    want = np.float32(0)
    for j in (NECK, L_SHOULDER, L_ELBOW, L_WRIST):
        want = want + bones[j] * np.float32(1000)
    np.testing.assert_array_equal(ro.joints3d[0, L_WRIST], want)
    np.testing.assert_allclose(ro.joints3d[0, L_WRIST], 10 * np.array([12, -12, 6]), atol=1e-3)
    np.testing.assert_array_equal(ro.joints3d[0, PELVIS], 0)


def test_h36m_skeleton():
    k = H36M17.num_joints
    orpm = RNG.normal(size=(k, 3, 20, 20)).astype(np.float32)
    pos = np.stack([np.arange(k), np.full(k, 3)], -1)[None].astype(np.int64)
    sc = np.full((1, k), 0.9, np.float32)
    det = np.ones((1, k), bool)
    det[0, 13] = False  # l_wrist undetected, l_elbow unsure: l_arm is (13, 12, 11)
    sc[0, 12] = 0.0
    ro = run(pos, sc, det, orpm=orpm, skeleton=H36M17)
    assert ro.joint[0, 13] == 11 and ro.rule[0, 13] == ReadoutRule.LIMB
    assert ro.rule[0, H36M17.pelvis] == ReadoutRule.ROOT
    np.testing.assert_array_equal(ro.joints3d[0], expected_3d(ro.bones[0], H36M17))


def test_no_people():
    pos, sc, det = scene()
    ro = run(pos, sc, det, people=())
    assert ro.joints3d.shape == (0, K, 3) and ro.rule.shape == (0, K)


@pytest.mark.parametrize("seed", range(8))
def test_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    q = 4
    pos = rng.integers(0, 10, size=(q, K, 2))  # crowded: many conflicts
    sc = rng.choice(np.array([0.05, 0.1, 0.5, 0.9], np.float32), size=(q, K))
    det = rng.random((q, K)) < 0.7
    md = float(rng.choice([0.0, 1.0, 2.5, 3.0]))
    sets = S.readout_sets()
    cfg = dict(readout_min_dist=md, readout_threshold=0.1)
    ro = run(pos, sc, det, people=(2, 0, 1), **cfg)

    def valid(p, l, m):
        if not det[p, l] or not sc[p, l] > np.float32(0.1):
            return False
        for o in range(q):
            for l2 in range(K):
                if o != p and det[o, l2] and sets[m, l2]:
                    d2 = float(pos[p, l, 0] - pos[o, l2, 0]) ** 2 + float(pos[p, l, 1] - pos[o, l2, 1]) ** 2
                    if d2 < md * md:
                        return False
        return True

    for row, p in enumerate((2, 0, 1)):
        for j in range(K):
            if j == PELVIS:
                assert ro.joint[row, j] == -1
                continue
            want = next((l for l in S.readout_chain(j) if valid(p, l, j)), -1)
            assert ro.joint[row, j] == want, (p, j)
            if want >= 0:
                x, y = pos[p, want]
                np.testing.assert_array_equal(ro.bones[row, j], ORPM[j, :, y, x])
        np.testing.assert_array_equal(ro.joints3d[row], expected_3d(ro.bones[row]))
