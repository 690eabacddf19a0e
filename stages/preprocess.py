"""Stage 2, preprocess: parses the IDX files into normalised arrays with a stratified split.

Reads data/raw/ and params `dataset.files`, `dataset.class_names` and `preprocess` (val_fraction,
seed). Writes data/prepared/{x,y}_{train,val,test}.npy (images (N, 28, 28, 1) float32 in [0, 1],
uint8 labels) and metrics/dataset.json (image counts per class per split). The arrays are written into a new
folder that replaces data/prepared only once all of them and dataset.json are written (files.atomic_directory).
"""
import sys

import numpy as np

from mnist_pipeline.data import normalise, save_split, stratified_split
from mnist_pipeline.files import atomic_directory, write_json
from mnist_pipeline.idx import IdxError, read_images, read_labels
from mnist_pipeline.params import ParamsError, load_params
from mnist_pipeline.paths import DATASET_METRICS, PREPARED_DIR, RAW_DIR
from mnist_pipeline.stage import run_stage


def read_pair(files, part, num_classes):
    """Reads one part's images and labels, checking that their counts agree."""
    images_path = RAW_DIR / getattr(files, f"{part}_images").name
    labels_path = RAW_DIR / getattr(files, f"{part}_labels").name
    images, labels = read_images(images_path), read_labels(labels_path, num_classes)
    if len(images) != len(labels):
        raise IdxError(f"{images_path}: {len(images)} images but {labels_path} has {len(labels)} labels")
    return images, labels


def main():
    params = load_params("dataset.files", "dataset.class_names", "preprocess")
    class_names, files, prep = params.dataset.class_names, params.dataset.files, params.preprocess
    train_images, train_labels = read_pair(files, "train", len(class_names))
    test_images, test_labels = read_pair(files, "test", len(class_names))
    train_idx, val_idx = stratified_split(train_labels, prep.val_fraction, prep.seed)
    if len(train_idx) == 0 or len(val_idx) == 0:
        raise ParamsError(f"params.yaml: preprocess.val_fraction = {prep.val_fraction} is invalid; it leaves "
                          f"an empty split of the {len(train_labels)} training images")
    splits = {"train": (train_images[train_idx], train_labels[train_idx]),
              "val": (train_images[val_idx], train_labels[val_idx]),
              "test": (test_images, test_labels)}
    stats = {}
    with atomic_directory(PREPARED_DIR) as prepared:
        for split, (images, labels) in splits.items():
            save_split(prepared, split, normalise(images), labels)
            per_class = np.bincount(labels, minlength=len(class_names))
            stats[split] = {"total": int(len(labels)), **{name: int(n) for name, n in zip(class_names, per_class)}}
            print(f"{split}: {len(labels)} images")
        write_json(DATASET_METRICS, stats)


if __name__ == "__main__":
    sys.exit(run_stage(main))
