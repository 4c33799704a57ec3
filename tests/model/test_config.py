"""HourglassConfig's sizes are known before a network is built (checkpoint loading relies on them)."""

from __future__ import annotations

import pytest

from ssmp3d.model import HourglassConfig, HourglassNet
from ssmp3d.model.config import MAX_PARAMETERS


def _state_numel(net: HourglassNet) -> int:
    return sum(t.numel() for t in net.state_dict().values())


@pytest.mark.parametrize("config", [
    HourglassConfig.tiny(),
    HourglassConfig.small(),
    HourglassConfig.tiny(num_stacks=1, depth=1, input_size=64),
    HourglassConfig.tiny(num_stacks=3, depth=2, increase=8, tag_dim=3, head_features=12, num_joints=5),
    HourglassConfig.tiny(features=8, head_features=1, num_stacks=2),
])
def test_sizes_computed_from_the_config_match_the_built_network(config):
    net = HourglassNet(config)
    assert config.num_parameters == net.num_parameters()
    assert config.state_numel == _state_numel(net)


def test_paper_size_without_building_it():
    # 4 stacks, 256 features, increase 128: about 60 million parameters (measured on the built network)
    assert HourglassConfig.paper().num_parameters == 59_789_756


def test_oversized_configs_are_refused_at_once():
    with pytest.raises(ValueError, match=r"HourglassConfig: .* parameters, more than"):
        HourglassConfig.small(tag_dim=10**9)
    with pytest.raises(ValueError, match=r"more than"):
        HourglassConfig.paper(features=65536)
    assert HourglassConfig.tiny(tag_dim=800_000).num_parameters <= MAX_PARAMETERS  # 730 million: allowed
