"""The not-a-digit figure: a row of model inputs per set of pictures, titled with the share rejected.

`examples_figure(rows, columns)` reads [(set name, inputs (N, 28, 28) in [0, 1], rejected (N,) bool, rate)]
and returns a Matplotlib Figure; rejected examples are framed in green, accepted ones in red.
"""
import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402

from mnist_pipeline.figures import RIGHT_COLOUR, WRONG_COLOUR  # noqa: E402


def examples_figure(rows, columns=10):
    """One row per set: its first `columns` inputs (what the model saw) and, on the left, its rejection rate."""
    fig, axes = plt.subplots(len(rows), columns, figsize=(columns * 0.8 + 1.6, len(rows) * 0.85), squeeze=False)
    for (name, inputs, rejected, rate), line in zip(rows, axes):
        for index, ax in enumerate(line):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if index < len(inputs):
                ax.imshow(inputs[index], cmap="gray", vmin=0, vmax=1)
                colour = RIGHT_COLOUR if rejected[index] else WRONG_COLOUR
                for spine in ax.spines.values():
                    spine.set(visible=True, color=colour, linewidth=2)
            else:
                ax.axis("off")
        line[0].set_ylabel(f"{name}\n{rate:.1%}", rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle("Not a digit: share rejected per set (green frame: rejected, red: taken for a digit)", fontsize=9)
    return fig
