"""What the predict command line shows and saves: result rows, their table / JSON / CSV text, and
the preprocessed 28x28 inputs with a side-by-side preview.

`results(paths, probabilities, calibration)` reads the image paths, the model's (N, 10) outputs after the
temperature of `calibration` (mnist_pipeline.calibration.Calibration) and returns one dict per image;
FORMATTERS turn those rows into text. `preview_folder(directory, inputs)`
checks and makes the --save-preprocessed folder before any work and marks it with PREVIEWS_MARKER
(folder searches skip marked folders, so previews are never read back as inputs);
`save_preprocessed` writes PNG files there under names no existing file has.
"""
import csv
import io
import itertools
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_pipeline.files import OutputError, writable_directory
from mnist_pipeline.predict.decode import to_pixels

TOP = 3
NOT_A_DIGIT_FIELDS = ("not_a_digit", "not_a_digit_score", "not_a_digit_threshold", "digit_pieces",
                      "stroke_spread")  # predict/rejection
NOT_A_DIGIT_CELLS = {True: "yes", False: "no", None: "?"}
PREVIEW_SIZE = 224  # height of the preview; the 28x28 input is shown at 8x


def results(paths, probabilities, calibration):
    """One dict per image: file, digit, confidence (calibrated), unsure (confidence under the calibration's
    unsure_below), calibrated (whether a fitted temperature was applied) and the top 3 (digit, probability)."""
    rows = []
    for path, probs in zip(paths, probabilities):
        order = np.argsort(probs)[::-1][:TOP]
        confidence = float(probs[order[0]])
        rows.append({"file": str(path), "digit": int(order[0]), "confidence": round(confidence, 4),
                     "unsure": confidence < calibration.unsure_below, "calibrated": calibration.calibrated,
                     "top3": [{"digit": int(d), "probability": round(float(probs[d]), 4)} for d in order]})
    return rows


def format_table(rows):
    """An aligned text table, one line per image; last lines when a picture is probably not a digit, when
    that was not checked and when the confidence is not calibrated."""
    width = max([len("file")] + [len(row["file"]) for row in rows])
    lines = [f"{'file':<{width}}  digit  confidence  unsure  not a digit  top {TOP}"]
    for row in rows:
        top = " ".join(f"{t['digit']}:{t['probability']:.3f}" for t in row["top3"])
        lines.append(f"{row['file']:<{width}}  {row['digit']:>5}  {row['confidence']:>10.1%}  "
                     f"{'yes' if row['unsure'] else 'no':>6}  {NOT_A_DIGIT_CELLS[row.get('not_a_digit')]:>11}  {top}")
    if any(row.get("not_a_digit") for row in rows):
        lines.append("(not a digit yes: the picture is probably not one digit (a letter, a drawing, several digits, "
                     "...); its digit is a guess)")
    if any(row.get("not_a_digit") is None for row in rows):
        lines.append("(not a digit ?: not checked: no not_a_digit.json fitted for this model file beside it)")
    if not all(row["calibrated"] for row in rows):
        lines.append("(confidence uncalibrated: no calibration.json fitted for this model file beside it)")
    return "\n".join(lines) + "\n"


def format_json(rows):
    """A JSON list of the result objects."""
    return json.dumps(rows, indent=2) + "\n"


def format_csv(rows):
    """CSV with a header: file, digit, confidence, unsure and calibrated (true/false), then digit_k and
    probability_k for k = 2..TOP, then not_a_digit (true/false, empty when not checked), its score and
    threshold, the digit pieces found side by side and the stroke spread."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    runners_up = [f"{kind}_{k}" for k in range(2, TOP + 1) for kind in ("digit", "probability")]
    writer.writerow(["file", "digit", "confidence", "unsure", "calibrated"] + runners_up + list(NOT_A_DIGIT_FIELDS))
    for row in rows:
        writer.writerow([row["file"], row["digit"], row["confidence"], str(row["unsure"]).lower(),
                         str(row["calibrated"]).lower()]
                        + [v for t in row["top3"][1:] for v in (t["digit"], t["probability"])]
                        + [csv_value(row.get(name)) for name in NOT_A_DIGIT_FIELDS])
    return out.getvalue()


def csv_value(value):
    """A CSV cell: true/false for booleans, empty for None."""
    return "" if value is None else str(value).lower() if isinstance(value, bool) else value


FORMATTERS = {"table": format_table, "json": format_json, "csv": format_csv}


PREVIEWS_MARKER = ".predict-previews"
MARKER_TEXT = "Previews written by predict.py --save-preprocessed; folder searches of predict.py skip this folder.\n"


def is_preview_folder(folder):
    """Whether `folder` was made by --save-preprocessed (holds PREVIEWS_MARKER)."""
    return os.path.lexists(Path(folder) / PREVIEWS_MARKER)


def preview_folder(directory, inputs):
    """Checks the --save-preprocessed folder before any work and creates it with its marker; OutputError
    when it is or holds one of the `inputs`, is a non-empty folder of something else than previews,
    is not a folder, or cannot be written. A folder inside an input folder is fine: searches skip it."""
    directory = Path(directory)
    target = directory.resolve()
    for path in inputs:
        resolved = path.resolve()
        if target in resolved.parents:
            raise OutputError(f"{directory}: holds the input {path}; name a folder of its own for the previews")
        if resolved == target and directory.is_dir():
            raise OutputError(f"{directory}: is an input folder; name a folder of its own for the previews")
    if directory.is_dir() and not is_preview_folder(directory) and any(directory.iterdir()):
        raise OutputError(f"{directory}: folder is not empty and holds no earlier previews ({PREVIEWS_MARKER}); "
                          "name a new or empty folder")
    writable_directory(directory)
    marker = directory / PREVIEWS_MARKER
    try:
        if not os.path.lexists(marker):
            marker.write_text(MARKER_TEXT)
    except OSError as err:
        raise OutputError(f"{marker}: cannot write output ({err.strerror or err})") from None
    return directory


def save_preprocessed(directory, stem, original, readings):
    """Writes <name>_28x28.png (the first of the (2, 28, 28) readings: the model input as adjusted) and
    <name>_preview.png (the original beside it, and beside the second reading, as drawn, where it differs) in
    directory, where name is stem, or stem_2, stem_3, ... for the first of those with neither file present: no
    existing file is ever overwritten. Returns the name."""
    model_input, as_drawn = (Image.fromarray(np.round(reading * 255).astype(np.uint8)) for reading in readings)
    shown = [model_input] if np.array_equal(readings[0], readings[1]) else [model_input, as_drawn]
    for number in itertools.count(1):
        name = stem if number == 1 else f"{stem}_{number}"
        files = [directory / f"{name}_28x28.png", directory / f"{name}_preview.png"]
        if not any(os.path.lexists(file) for file in files):
            break
    for file, image in zip(files, (model_input, preview(original, *shown))):
        try:
            with open(file, "xb") as out:  # exclusive: a file that appeared meanwhile is not overwritten
                image.save(out, format="PNG")
        except OSError as err:
            raise OutputError(f"{file}: cannot write output ({err.strerror or err})") from None
    return name


def preview(original, *model_inputs):
    """The original (as the preprocessor sees it, longer side PREVIEW_SIZE) beside the 28x28 inputs at 8x."""
    pixels = np.round(to_pixels(original, max_side=2 * PREVIEW_SIZE) * 255).astype(np.uint8)
    shown = Image.fromarray(pixels.squeeze(axis=2) if pixels.shape[2] == 1 else pixels).convert("RGB")
    scale = PREVIEW_SIZE / max(shown.size)
    shown = shown.resize((max(1, round(shown.width * scale)), max(1, round(shown.height * scale))),
                         Image.Resampling.LANCZOS)
    sheet = Image.new("RGB", (shown.width + len(model_inputs) * (PREVIEW_SIZE + 8), PREVIEW_SIZE), (128, 128, 128))
    sheet.paste(shown, (0, (PREVIEW_SIZE - shown.height) // 2))
    for number, model_input in enumerate(model_inputs):
        sheet.paste(model_input.resize((PREVIEW_SIZE, PREVIEW_SIZE), Image.Resampling.NEAREST).convert("RGB"),
                    (shown.width + 8 + number * (PREVIEW_SIZE + 8), 0))
    return sheet
