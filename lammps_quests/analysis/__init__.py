"""Offline analysis of atomistic datasets with QUESTS information quantities.

Each function here is also a ``lammps-quests`` subcommand (see ``lammps-quests --help``):

* :func:`entropy_summary`: H, log n, efficiency H / log n, diversity D (``entropy``)
* :func:`dh_against_reference`: per-atom dH against a reference file, exact or approximate (``dh``)
* :func:`overlap_matrix`: fraction of one set covered by another (``overlap``)
* :func:`entropy_curve`, :func:`fit_eq9`: learning curves and the paper's Eq. 9 (``learning-curve``)
* :func:`compress`: keep a fraction of frames with high entropy (``compress``)
* :func:`frame_clusters`: solid-like clusters in a melt (``clusters``)
* :func:`bandwidth_for_volume`: the volume-dependent bandwidth h(V) (``bandwidth``)
* :func:`select`: greedy choice of the structures adding the most entropy to a reference
  (``active select``)

Units: descriptors in Å^-1, bandwidths in Å^-1, entropies and dH in nats, distances in Å.
"""

from ._approx import ann_index_path, approx_delta_entropy, build_ann_index, load_or_build_ann_index
from ._bandwidth import bandwidth_for_volume, volume_per_atom
from ._clusters import FrameClusters, frame_clusters, periodic_components, size_distribution
from ._compress import METHODS as COMPRESSION_METHODS
from ._compress import Compression, compress, select_frames
from ._dh import dh_against_reference, dh_summary, split_per_frame, write_frames_with_columns, write_frames_with_dh
from ._inputs import Dataset, load_reference, read_dataset, read_datasets
from ._learning_curve import Eq9Fit, LearningCurve, entropy_curve, eq9, fit_eq9
from ._overlap import overlap_fraction, overlap_matrix
from ._selection import Pick, Selection, select
from ._summary import EntropySummary, entropy_summary

__all__ = [
    "COMPRESSION_METHODS",
    "Compression",
    "Dataset",
    "EntropySummary",
    "Eq9Fit",
    "FrameClusters",
    "LearningCurve",
    "ann_index_path",
    "Pick",
    "Selection",
    "approx_delta_entropy",
    "bandwidth_for_volume",
    "build_ann_index",
    "compress",
    "dh_against_reference",
    "dh_summary",
    "entropy_curve",
    "entropy_summary",
    "eq9",
    "fit_eq9",
    "frame_clusters",
    "load_or_build_ann_index",
    "load_reference",
    "overlap_fraction",
    "overlap_matrix",
    "periodic_components",
    "read_dataset",
    "read_datasets",
    "select",
    "select_frames",
    "size_distribution",
    "split_per_frame",
    "volume_per_atom",
    "write_frames_with_columns",
    "write_frames_with_dh",
]
