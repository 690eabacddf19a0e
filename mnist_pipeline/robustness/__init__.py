"""The robustness suite: the MNIST test digits corrupted in the spirit of MNIST-C (Mu & Gilmer 2019) and drawn
as people's pictures, and where the robustness stage writes what the model makes of them.

noise, blur, geometry, overlays (the corruptions, one function each), suite (their registry, seeds and the
test subset), pictures (the predict styles through predict.py's preparation), results (accuracies and the
JSON summary), figure (one example of each). The paths are here rather than in paths.py, which the train
stage depends on.
"""
from pathlib import Path

ROBUSTNESS_METRICS = Path("metrics/robustness.json")
ROBUSTNESS_FIGURE = Path("plots/robustness/examples.png")
