"""Stage robustness: how the trained model copes with corrupted digits and with people's pictures of them.

Reads models/model.keras, data/prepared/{x,y}_test.npy and params `robustness` (images: the size of the
seeded test subset; seed), `train.augment` (what the model was trained with) and `dataset.class_names`. Corrupts the subset with each of MNIST-C's 15
corruptions (mnist_pipeline/robustness/suite.py) and draws its first STYLE_IMAGES digits in every picture
style of mnist_pipeline/predict/styles.py, read back and classified as predict.py reads them (pictures.py,
predict/readings.py: as adjusted and as drawn).
Writes metrics/robustness.json (accuracy clean, per corruption, per style, their means and the headline
mean over the corruptions the training augmentation does not do: results.py) and
plots/robustness/examples.png (one example of each with its accuracy).
"""
import sys

import numpy as np

from mnist_pipeline import figures
from mnist_pipeline.data import load_split
from mnist_pipeline.files import atomic_path, write_json
from mnist_pipeline.params import load_params
from mnist_pipeline.paths import MODEL_FILE, PREPARED_DIR
from mnist_pipeline.predict.readings import reading_probabilities
from mnist_pipeline.robustness import ROBUSTNESS_FIGURE, ROBUSTNESS_METRICS
from mnist_pipeline.robustness.figure import examples_figure
from mnist_pipeline.robustness.pictures import picture_inputs
from mnist_pipeline.robustness.results import summary
from mnist_pipeline.robustness.suite import CORRUPTIONS, corrupt, in_training, seeded_subset
from mnist_pipeline.stage import run_stage

STYLE_IMAGES = 200   # digits per picture style at most: drawing and preparing one takes 0.1-0.5 s
BATCH_SIZE = 1000
FIGURE_DPI = 100


def main():
    params = load_params("robustness", "train.augment", "dataset.class_names")
    seed, class_names = params.robustness.seed, params.dataset.class_names
    x_test, y_test = load_split(PREPARED_DIR, "test", num_classes=len(class_names))
    chosen = seeded_subset(len(y_test), params.robustness.images, seed)
    clean, labels = x_test[chosen, ..., 0], y_test[chosen]

    from mnist_pipeline.model import load_model, predict_probabilities
    model = load_model(MODEL_FILE, len(class_names))  # before the slow part: a bad model file fails at once

    def predicted(images):
        return predict_probabilities(model, images[..., np.newaxis], BATCH_SIZE).argmax(axis=1)

    def read(readings):
        return reading_probabilities(model.predict_on_batch, readings, BATCH_SIZE).argmax(axis=1)

    corrupted = {name: corrupt(name, clean, seed) for name in CORRUPTIONS}
    count = min(len(chosen), STYLE_IMAGES)
    pictures = picture_inputs(np.round(clean[:count] * 255).astype(np.uint8), seed)
    clean_predicted = predicted(clean)
    corrupted_predicted = {name: predicted(images) for name, images in corrupted.items()}
    styled_predicted = {name: read(readings) for name, (readings, _) in pictures.items()}
    results = summary(seed, labels, clean_predicted, corrupted_predicted, in_training(params.train.augment),
                      labels[:count], clean_predicted[:count], styled_predicted,
                      {name: readable for name, (_, readable) in pictures.items()})
    write_json(ROBUSTNESS_METRICS, results)

    panels = [("clean", clean[0], results["clean_accuracy"], clean_predicted[0] == labels[0])]
    panels += [(name, corrupted[name][0], results["corruptions"][name], corrupted_predicted[name][0] == labels[0])
               for name in corrupted]
    panels += [(name, pictures[name][0][0, 0], results["styles"][name], styled_predicted[name][0] == labels[0])
               for name in pictures]
    with atomic_path(ROBUSTNESS_FIGURE) as tmp:
        figures.save(examples_figure(panels, f"Test digit {chosen[0]} (a {class_names[labels[0]]}) as the model "
                                             "sees it; accuracy over the suite; red: this example wrong"),
                     tmp, FIGURE_DPI)
    print(f"clean {results['clean_accuracy']:.2%}, corruptions {results['corruption_mean_accuracy']:.2%} "
          f"(headline {results['headline_mean_accuracy']:.2%}), styles {results['style_mean_accuracy']:.2%}; "
          f"wrote {ROBUSTNESS_METRICS} and {ROBUSTNESS_FIGURE}")


if __name__ == "__main__":
    sys.exit(run_stage(main))
