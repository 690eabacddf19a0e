"""What the predict command line shows and saves: result rows, their table / JSON / CSV text, and
the preprocessed 28x28 inputs with a side-by-side preview.

`results(paths, probabilities)` reads the image paths and the model's (N, 10) outputs and returns
one dict per image; FORMATTERS turn those rows into text; `save_preprocessed` writes PNG files.
"""
import csv
import io
import json

import numpy as np
from PIL import Image

from mnist_pipeline.predict.decode import to_pixels

TOP = 3
PREVIEW_SIZE = 224  # height of the preview; the 28x28 input is shown at 8x


def results(paths, probabilities):
    """One dict per image: file, digit, confidence and the top 3 (digit, probability) pairs."""
    rows = []
    for path, probs in zip(paths, probabilities):
        order = np.argsort(probs)[::-1][:TOP]
        rows.append({"file": str(path), "digit": int(order[0]), "confidence": round(float(probs[order[0]]), 4),
                     "top3": [{"digit": int(d), "probability": round(float(probs[d]), 4)} for d in order]})
    return rows


def format_table(rows):
    """An aligned text table, one line per image."""
    width = max([len("file")] + [len(row["file"]) for row in rows])
    lines = [f"{'file':<{width}}  digit  confidence  top {TOP}"]
    for row in rows:
        top = " ".join(f"{t['digit']}:{t['probability']:.3f}" for t in row["top3"])
        lines.append(f"{row['file']:<{width}}  {row['digit']:>5}  {row['confidence']:>10.1%}  {top}")
    return "\n".join(lines) + "\n"


def format_json(rows):
    """A JSON list of the result objects."""
    return json.dumps(rows, indent=2) + "\n"


def format_csv(rows):
    """CSV with a header: file, digit, confidence, then digit_k and probability_k for k = 2..TOP."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    runners_up = [f"{kind}_{k}" for k in range(2, TOP + 1) for kind in ("digit", "probability")]
    writer.writerow(["file", "digit", "confidence"] + runners_up)
    for row in rows:
        writer.writerow([row["file"], row["digit"], row["confidence"]]
                        + [v for t in row["top3"][1:] for v in (t["digit"], t["probability"])])
    return out.getvalue()


FORMATTERS = {"table": format_table, "json": format_json, "csv": format_csv}


def save_preprocessed(directory, stem, original, digit):
    """Writes <stem>_28x28.png (the model input) and <stem>_preview.png (original beside it) in directory."""
    directory.mkdir(parents=True, exist_ok=True)
    model_input = Image.fromarray(np.round(digit * 255).astype(np.uint8))
    model_input.save(directory / f"{stem}_28x28.png")
    preview(original, model_input).save(directory / f"{stem}_preview.png")


def preview(original, model_input):
    """The original (as the preprocessor sees it, longer side PREVIEW_SIZE) beside the 28x28 input at 8x."""
    pixels = np.round(to_pixels(original, max_side=2 * PREVIEW_SIZE) * 255).astype(np.uint8)
    shown = Image.fromarray(pixels.squeeze(axis=2) if pixels.shape[2] == 1 else pixels).convert("RGB")
    scale = PREVIEW_SIZE / max(shown.size)
    shown = shown.resize((max(1, round(shown.width * scale)), max(1, round(shown.height * scale))),
                         Image.Resampling.LANCZOS)
    sheet = Image.new("RGB", (shown.width + PREVIEW_SIZE + 8, PREVIEW_SIZE), (128, 128, 128))
    sheet.paste(shown, (0, (PREVIEW_SIZE - shown.height) // 2))
    sheet.paste(model_input.resize((PREVIEW_SIZE, PREVIEW_SIZE), Image.Resampling.NEAREST).convert("RGB"),
                (shown.width + 8, 0))
    return sheet
