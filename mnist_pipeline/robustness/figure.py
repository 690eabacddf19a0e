"""The robustness figure (plots/robustness/examples.png): one test digit as the model sees it clean, under
each corruption and in each picture style, each panel titled with the accuracy over the whole suite.

`examples_figure(panels)` returns a Matplotlib Figure; save it with mnist_pipeline.figures.save.
"""
import numpy as np

from mnist_pipeline.figures import RIGHT_COLOUR, WRONG_COLOUR, plt

COLUMNS = 10


def examples_figure(panels, title):
    """A grid of (name, image (28, 28), accuracy, right) panels: the image in grey in a thin frame, 'name' and
    the accuracy above it, in red where the model got this example wrong."""
    rows = -(-len(panels) // COLUMNS)
    fig, axes = plt.subplots(rows, COLUMNS, figsize=(1.45 * COLUMNS, 1.75 * rows + 0.4), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (name, image, accuracy, right) in zip(axes.flat, panels):
        ax.imshow(np.asarray(image), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([]), ax.set_yticks([])
        ax.grid(False)
        for spine in ax.spines.values():  # a frame, so white parts of an image stand out from the page
            spine.set(visible=True, color="grey", linewidth=0.5)
        ax.set_title(f"{name}\n{accuracy:.1%}", fontsize=7, color=RIGHT_COLOUR if right else WRONG_COLOUR)
    fig.suptitle(title, fontsize=10)
    return fig
