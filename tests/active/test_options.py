"""The one options record of a monitored run (MonitorOptions): every value checked once, by its
constructor, with the same OptionError on every host."""

from __future__ import annotations

import pytest

from lammps_quests.monitor._options import MonitorOptions
from lammps_quests.errors import OptionError, QuestsInputError
from lammps_quests.lammps._keywords import parse_keywords


def test_defaults_and_converted_values():
    options = MonitorOptions()
    assert (options.bandwidth, options.threshold, options.fast, options.decide) == (None, 0.0, None, False)
    words = MonitorOptions(bandwidth="0.02", threshold="1.5", fast="1e-4", decide=True, k="16", cutoff="4.5")
    assert (words.bandwidth, words.threshold, words.fast, words.k, words.cutoff) == (0.02, 1.5, 1e-4, 16, 4.5)
    assert MonitorOptions(threshold=0.5, halt_threshold=3, save_threshold=1, save_path="s.xyz").decisions == [
        0.5, 3.0, 1.0]


@pytest.mark.parametrize("values, message", [
    ({"bandwidth": -0.01}, "bandwidth must lie between"),
    ({"bandwidth": 1e-9}, "bandwidth must lie between"),
    ({"threshold": float("nan")}, "threshold must be a finite number in nats"),
    ({"threshold": "hot"}, "threshold must be a number in nats"),
    ({"fast": 0.0}, "fast must be a number of nats between 0 and 1"),
    ({"fast": 1.0}, "fast must be a number of nats between 0 and 1"),
    ({"fast": True}, "fast must be a number in nats"),
    ({"decide": True}, "decide only applies with fast"),
    ({"decide": 1, "fast": 1e-6}, "decide must be True or False"),
    ({"k": 1}, "k must be an integer >= 2"),
    ({"k": 2.5}, "k must be an integer >= 2"),
    ({"cutoff": 0}, "cutoff must be a distance > 0"),
    ({"save_cut": 6.0}, "cut only applies with save"),
    ({"save_threshold": 0.0}, "save needs both a threshold in nats and a file"),
    ({"save_threshold": 0.0, "save_path": "s.xyz", "save_cut": -1}, "cut must be a radius > 0"),
])
def test_each_bad_value_is_one_option_error(values, message):
    with pytest.raises(OptionError, match=message) as raised:
        MonitorOptions(**values)
    assert isinstance(raised.value, QuestsInputError)


def test_fix_keywords_build_the_record():
    options = parse_keywords("bandwidth 0.02 threshold 1.5 halt 3 hard save 0.5 new.xyz cut 6 k 32 "
                             "cutoff 5 fast 1e-6 decide".split())
    assert options.monitor == MonitorOptions(bandwidth=0.02, threshold=1.5, halt_threshold=3.0, save_threshold=0.5,
                                             save_path="new.xyz", save_cut=6.0, k=32, cutoff=5.0, fast=1e-6,
                                             decide=True)
    assert options.halt_mode == "hard"
    assert parse_keywords([]).monitor == MonitorOptions()
    with pytest.raises(OptionError, match="fast must be a number of nats between 0 and 1"):
        parse_keywords(["fast", "2"])
