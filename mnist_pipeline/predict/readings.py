"""Classifies a picture as step 6 adjusted its strokes and as drawn, and averages the two answers.

Step 6 of the preparation (framing.match_mnist_strokes) thins a bold digit, or thickens a thin one, to MNIST's
stroke width. On bold digits cropped close to their ink it mends some digits and damages others (a bold 8 whose
loops close up), so predict.py, the demo server and the robustness stage read each picture whose strokes it
changed twice (docs/predict.md, step 6). `reading_probabilities(classify, readings, batch_size, shift_px)` takes
the (N, 2, 28, 28) float32 readings of prepare.prepare_readings (adjusted, as drawn; equal where step 6 left the
strokes alone) and returns (N, 10) probabilities: the first reading's, averaged with the second's where the two
differ, each over mnist_pipeline.shifts' test-time shifts. `classify(batch)` maps (n, 28, 28, 1) to (n, 10).
"""
import numpy as np

from mnist_pipeline.shifts import predict_probabilities


def reading_probabilities(classify, readings, batch_size, shift_px=0):
    """(N, 10) probabilities of (N, 2, 28, 28) readings: the first reading's, averaged with the second's where it
    differs from the first."""
    adjusted, drawn = readings[:, 0, ..., np.newaxis], readings[:, 1, ..., np.newaxis]
    probabilities = predict_probabilities(classify, adjusted, batch_size, shift_px)
    changed = np.flatnonzero((adjusted != drawn).any(axis=(1, 2, 3)))
    if changed.size:
        as_drawn = predict_probabilities(classify, drawn[changed], batch_size, shift_px)
        probabilities[changed] = (probabilities[changed] + as_drawn) / 2
    return probabilities
