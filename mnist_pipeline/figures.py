"""Matplotlib figures of the pipeline's results, one function per figure, each returning a Figure."""
import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mnist_pipeline.metrics import confusion_matrix  # noqa: E402

TRAIN_COLOUR, VAL_COLOUR = "#1f77b4", "#ff7f0e"
RIGHT_COLOUR, WRONG_COLOUR = "#1a7f37", "#d62728"
plt.rcParams.update({"figure.autolayout": True, "axes.grid": True, "grid.alpha": 0.3,
                     "axes.spines.top": False, "axes.spines.right": False})


def curves(history, metric, title, ylabel):
    """Train and validation `metric` per epoch from the history table."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(history["epoch"], history[metric], "o-", color=TRAIN_COLOUR, label="train")
    ax.plot(history["epoch"], history[f"val_{metric}"], "s-", color=VAL_COLOUR, label="validation")
    ax.set(title=title, xlabel="epoch", ylabel=ylabel)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    return fig


def confusion_heatmap(actual, predicted, class_names):
    """Counts of actual vs predicted classes; off-diagonal cells on their own scale so errors show."""
    counts = confusion_matrix(actual, predicted, len(class_names))
    errors = np.where(np.eye(len(class_names), dtype=bool), 0, counts)
    fig, ax = plt.subplots(figsize=(6.6, 6))
    ax.imshow(errors, cmap="Reds", vmin=0, vmax=max(errors.max(), 1))
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            diagonal = i == j
            ax.text(j, i, counts[i, j], ha="center", va="center", fontsize=8,
                    color=RIGHT_COLOUR if diagonal else "black", fontweight="bold" if diagonal else None)
    ax.set_xticks(range(len(class_names)), class_names)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.grid(False)
    ax.set(title=f"Confusion matrix: {int(np.trace(counts))} right (green), "
                 f"{int(errors.sum())} wrong (red, darker = more)",
           xlabel="predicted class", ylabel="actual class")
    ax.title.set_fontsize(10)
    return fig


def digit_grid(images, actual, predicted, confidence, class_names, title):
    """A grid of digits captioned 'true → predicted (confidence)', mistakes in red."""
    cols = max(1, min(len(images), 9))
    rows = max(1, -(-len(images) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.55 * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, a, p, c in zip(axes.flat, images, actual, predicted, confidence):
        wrong = a != p
        ax.imshow(image.squeeze(), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{class_names[a]}→{class_names[p]} ({c:.0%})", fontsize=8,
                     color=WRONG_COLOUR if wrong else RIGHT_COLOUR, fontweight="bold" if wrong else None)
        if wrong:
            ax.axis("on")
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set(visible=True, color=WRONG_COLOUR, linewidth=2)
    fig.suptitle(title, fontsize=10)
    return fig


def per_class_bars(per_class_accuracy):
    """Test accuracy of each class as bars, the worst in red."""
    names, values = list(per_class_accuracy), np.array(list(per_class_accuracy.values()))
    fig, ax = plt.subplots(figsize=(6.4, 4))
    colours = [WRONG_COLOUR if v == values.min() else TRAIN_COLOUR for v in values]
    bars = ax.bar(names, values * 100, color=colours)
    ax.bar_label(bars, [f"{v:.1%}" for v in values], fontsize=7)
    low = max(0.0, values.min() * 100 - 2)
    ax.set(title="Test accuracy per class (lowest in red)", xlabel="class", ylabel="accuracy (%)",
           ylim=(low, 100.4))
    return fig


def reliability_diagram(table, ece):
    """Accuracy against mean confidence per confidence bin (the evaluate stage's plots/reliability.csv, its
    `calibration` column "before" or "after" the temperature) with the diagonal of perfect calibration, and
    the images per bin below; `ece` = {"before": ..., "after": ...} for the legend."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 6), sharex=True, height_ratios=(3, 1))
    top.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
    for name, colour, marker in (("before", VAL_COLOUR, "s"), ("after", TRAIN_COLOUR, "o")):
        rows = table[table["calibration"] == name]
        top.plot(rows["confidence"], rows["accuracy"], marker + "-", color=colour,
                 label=f"{name} the temperature (ECE {ece[name]:.4f})")
        bottom.bar(rows["confidence"], rows["count"], width=0.02, color=colour, alpha=0.6, label=name)
    top.set(title="Reliability on the test split: accuracy per confidence bin", ylabel="accuracy",
            xlim=(0, 1.02), ylim=(0, 1.02))
    top.legend(loc="upper left", fontsize=8)
    bottom.set(xlabel="confidence (mean of the bin)", ylabel="images", yscale="log")
    return fig


def first_layer_filters(kernels):
    """The first convolution's 3x3 kernels, (3, 3, 1, filters), blue negative and red positive."""
    count = kernels.shape[-1]
    cols = min(count, 8)
    rows = -(-count // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols, 1.1 * rows + 0.5), squeeze=False)
    limit = np.abs(kernels).max()
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < count:
            ax.imshow(kernels[:, :, 0, i], cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.suptitle("First-layer 3x3 filters (red: positive weight, blue: negative)", fontsize=10)
    return fig


def save(fig, path, dpi):
    """Writes the figure as PNG to `path` (in a folder from files.atomic_directory, or a temporary path from
    files.atomic_path) and closes it."""
    fig.savefig(path, dpi=dpi, format="png")
    plt.close(fig)
