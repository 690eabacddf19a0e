"""Fits the outlier-exposure head: a small network that tells the model's features of digits from those of non-digits.

`fit_head(digits, others, rng)` reads the head inputs (not_a_digit.head_inputs: features, log Mahalanobis
score, top probability, energy) of digits (M, D) and of generated non-digits (N, D) and returns the arrays
not_a_digit.scores("outlier_exposure", ...) reads (HEAD_ARRAYS): a standardisation and a one-hidden-layer
ReLU network (HIDDEN units, logistic output), fitted with L-BFGS on the logistic loss, the two sets
weighted equally, plus DECAY times the squared weights; `rng` draws its starting weights.
"""
import numpy as np
from scipy.optimize import minimize

from mnist_pipeline.not_a_digit import HEAD_ARRAYS

HIDDEN = 32  # 64 units: no gain on the measured sets, 1.5 times the fitting time (docs/confidence.md)
ITERATIONS = 1000  # at 300, L-BFGS stopped before it converged
DECAY = 1e-3  # held-out training negatives rejected: 87.9% (1e-4), 90.8% (1e-3), 89.6% (3e-3)


def fit_head(digits, others, rng, hidden=HIDDEN, iterations=ITERATIONS):
    """HEAD_ARRAYS {name: array} of the head fitted to score `others` (N, D) high and `digits` (M, D) low."""
    x = np.concatenate([digits, others])
    y = np.concatenate([np.zeros(len(digits)), np.ones(len(others))])
    weight = np.where(y == 1, len(x) / (2 * len(others)), len(x) / (2 * len(digits)))
    shift, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - shift) / scale
    shapes = [(z.shape[1], hidden), (hidden,), (hidden,), ()]
    start = np.concatenate([rng.normal(0, np.sqrt(2 / z.shape[1]), shapes[0]).ravel(), np.zeros(hidden),
                            rng.normal(0, np.sqrt(1 / hidden), hidden), np.zeros(1)])

    def unpack(flat):
        sizes = np.cumsum([int(np.prod(shape)) for shape in shapes])[:-1]
        return [part.reshape(shape) for part, shape in zip(np.split(flat, sizes), shapes)]

    def loss_and_gradient(flat):
        loss, grads = _loss_and_gradients(unpack(flat), z, y, weight)
        return loss, np.concatenate([g.ravel() for g in grads])

    fitted = minimize(loss_and_gradient, start, jac=True, method="L-BFGS-B", options={"maxiter": iterations})
    return dict(zip(HEAD_ARRAYS, [shift, scale, *unpack(fitted.x)]))


def _loss_and_gradients(params, z, y, weight):
    """The weighted mean logistic loss plus DECAY * |weights|^2, and its gradients with respect to `params`."""
    w1, b1, w2, b2 = params
    pre = z @ w1 + b1
    hidden = np.maximum(pre, 0)
    logit = hidden @ w2 + b2
    loss = np.sum(weight * (np.logaddexp(0, logit) - y * logit)) / len(z) + DECAY * (np.sum(w1 ** 2) + np.sum(w2 ** 2))
    d_logit = weight * (1 / (1 + np.exp(-logit)) - y) / len(z)
    d_hidden = np.outer(d_logit, w2) * (pre > 0)
    return loss, (z.T @ d_hidden + 2 * DECAY * w1, d_hidden.sum(axis=0), hidden.T @ d_logit + 2 * DECAY * w2,
                  d_logit.sum())
