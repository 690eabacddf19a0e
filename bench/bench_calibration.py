"""Measures what the calibrated confidence means: ECE and NLL before and after the temperature on the validation
and test splits, what each "unsure" level marks on the test split, and the same on pictures people make.

Reads --model (default models/model.keras) with the calibration.json beside it, {x,y}_{val,test}.npy in --data-dir
(default data/prepared: the preprocess stage) and the MNIST IDX files in --mnist (default data/raw) for the pictures: --count test
digits (styles.sample_digits, --seed) drawn in each of --styles (default: every style of
mnist_pipeline/predict/styles.py), each style's renderer seeded with --render-seed, saved in its file format,
read and prepared as predict.py does. Prints three tables (docs/confidence.md shows them); nothing is written.

    python bench/bench_calibration.py                       # 100 digits x 22 styles
    python bench/bench_calibration.py --count 20 --styles paper_photo,tight_bold
"""
import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from mnist_pipeline.calibration import apply_temperature, calibration_errors, negative_log_likelihood, read_calibration
from mnist_pipeline.data import load_split
from mnist_pipeline.paths import MODEL_FILE, PREPARED_DIR, RAW_DIR
from mnist_pipeline.predict import cli, styles
from mnist_pipeline.predict.readings import reading_probabilities

from bench_predict import style_list  # this folder's sibling script: --styles is read the same way

UNSURE_LEVELS = (0.5, 0.8, 0.9, 0.95)


def parse_args(argv=None):
    """The command line as an argparse namespace."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=MODEL_FILE)
    parser.add_argument("--data-dir", type=Path, default=PREPARED_DIR, help="folder of the prepared splits")
    parser.add_argument("--mnist", type=Path, default=RAW_DIR, help="folder of the MNIST IDX files")
    parser.add_argument("--count", type=int, default=100, help="digits per style")
    parser.add_argument("--seed", type=int, default=11, help="which test digits")
    parser.add_argument("--render-seed", type=int, default=5, help="each style's renderer")
    parser.add_argument("--styles", type=style_list, default=styles.STYLES, metavar="NAME,NAME",
                        help="comma-separated style names (default: all)")
    return parser.parse_args(argv)


def row(name, probabilities, labels, temperature, bins):
    """One line of the splits table: images, accuracy, ECE and NLL before and after the temperature."""
    before, _ = calibration_errors(probabilities, labels, bins)
    after, _ = calibration_errors(apply_temperature(probabilities, temperature), labels, bins)
    accuracy = np.mean(probabilities.argmax(axis=1) == labels)
    return (f"| {name} | {len(labels):,} | {accuracy:.2%} | {before:.4f} | {after:.4f} | "
            f"{negative_log_likelihood(probabilities, labels):.4f} | "
            f"{negative_log_likelihood(probabilities, labels, temperature):.4f} |")


def unsure_rows(calibrated, labels):
    """The unsure-levels table's lines for calibrated (N, 10) probabilities."""
    confidence, right = calibrated.max(axis=1), calibrated.argmax(axis=1) == labels
    lines = []
    for level in UNSURE_LEVELS:
        unsure = confidence < level
        among = f"{right[unsure].mean():.1%}" if unsure.any() else "-"
        lines.append(f"| {level:.2f} | {unsure.sum()} ({unsure.mean():.2%}) | {among} | "
                     f"{right[~unsure].mean():.2%} | {(unsure & ~right).sum()} of {(~right).sum()} |")
    return lines


def style_pictures(folder, mnist, count, seed, render_seed, chosen):
    """{style name: (readings (N, 2, 28, 28), labels (N,))}: the digits drawn, saved, read and prepared by
    predict.py's own cli.prepare_all; a picture the preparation refuses is left out (and named)."""
    images, labels = styles.sample_digits(mnist, count, seed)
    pictures = {}
    for style in chosen:
        rng = np.random.default_rng(render_seed)
        truth = {styles.write_rendering(style, image, rng, Path(folder) / f"{style.name}_{index:04d}"): label
                 for index, (image, label) in enumerate(zip(images, labels))}
        kept, readings = cli.prepare_all(truth, lambda path, problem: print(f"left out: {path}: {problem}",
                                                                             file=sys.stderr))
        pictures[style.name] = (readings, np.array([truth[path] for path in kept]))
    return pictures


def style_row(name, probabilities, labels, calibration):
    """One line of the styles table."""
    temperature, bins = calibration["temperature"], calibration["bins"]
    calibrated = apply_temperature(probabilities, temperature)
    right = calibrated.argmax(axis=1) == labels
    unsure = calibrated.max(axis=1) < calibration["unsure_below"]
    before, _ = calibration_errors(probabilities, labels, bins)
    after, _ = calibration_errors(calibrated, labels, bins)
    return (f"| {name} | {right.mean():.1%} | {before:.4f} | {after:.4f} | {unsure.mean():.1%} | "
            f"{(~right).sum()} | {(unsure & ~right).sum()} |")


def main(argv=None):
    args = parse_args(argv)
    calibration = read_calibration(args.model.parent / "calibration.json", args.model)
    temperature, bins = calibration["temperature"], calibration["bins"]
    from mnist_pipeline.model import load_model
    model = load_model(args.model)

    def predict(x):
        return model.predict(x.reshape(-1, 28, 28, 1), batch_size=500, verbose=0).astype(np.float64)

    print(f"| split | images | accuracy | ECE before | ECE after | NLL before | NLL after |  (T = {temperature:.3f})")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for split in ("val", "test"):
        x, y = load_split(args.data_dir, split, num_classes=10)
        probabilities = predict(x)
        print(row(split, probabilities, y, temperature, bins))
    print("\n| unsure below | answers marked unsure | right among them | right among the others | mistakes marked unsure |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(unsure_rows(apply_temperature(probabilities, temperature), y)))  # the test split's

    print("\n| style | accuracy | ECE before | ECE after | marked unsure | mistakes | mistakes marked unsure |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as folder:
        pictures = style_pictures(folder, args.mnist, args.count, args.seed, args.render_seed, args.styles)
    answers = {name: (reading_probabilities(model.predict_on_batch, readings, 500).astype(np.float64), y)
               for name, (readings, y) in pictures.items()}  # both readings, as predict.py reads a picture
    for name, (probabilities, y) in answers.items():
        print(style_row(name, probabilities, y, calibration))
    probabilities = np.concatenate([p for p, _ in answers.values()])
    labels = np.concatenate([y for _, y in answers.values()])
    print(style_row(f"pooled ({len(labels):,} pictures)", probabilities, labels, calibration))
    print(f"pooled NLL {negative_log_likelihood(probabilities, labels):.3f} -> "
          f"{negative_log_likelihood(probabilities, labels, temperature):.3f}")


if __name__ == "__main__":
    main()
