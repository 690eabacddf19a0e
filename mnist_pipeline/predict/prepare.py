"""Turns an ordinary picture of one handwritten digit into the 28x28 input of the MNIST CNN.

`prepare_image(img)` reads a PIL image (as decode.load_image returns it) and returns float32
(28, 28) in [0, 1], white ink on black, made the way MNIST was made, one module per step:
decode.to_pixels (floats, transparency), ink (polarity, background, hysteresis threshold),
rulings (lines of ruled paper), digit (which component is the digit), framing (stroke width,
20 px box, centre of mass in 28x28). ImageError for a zero-sized image or one without ink.
`prepare_readings(img)` gives that input and the digit framed with its strokes as drawn (framing.frame_readings:
float32 (2, 28, 28)), the two readings predict.py classifies (predict/readings.py).
`ink_layers`, `drawn_digit` and framing.frame_binary / frame_readings are its parts, for a caller that also reads
the ink and the digit as drawn (predict/pieces.py).
"""
from mnist_pipeline.predict.decode import ImageError, to_pixels
from mnist_pipeline.predict.digit import select_digit
from mnist_pipeline.predict.framing import digit_binary, frame_binary, frame_readings
from mnist_pipeline.predict.ink import ink_map, ink_mask
from mnist_pipeline.predict.rulings import without_ruled_lines


def prepare_image(img):
    """Returns the 28x28 float32 MNIST-style version of a PIL image of one digit (white ink on black).

    Raises ImageError for a zero-sized image or one without ink (blank).
    """
    return frame_binary(drawn_digit(*ink_layers(img)))


def prepare_readings(img):
    """float32 (2, 28, 28): prepare_image(img), and the digit framed with its strokes as drawn (equal to the first
    where step 6 left them); ImageError as prepare_image."""
    return frame_readings(drawn_digit(*ink_layers(img)))


def ink_layers(img):
    """(ink map, ink mask without ruled lines, strong ink level, whether the picture is a digit cropped
    close to its ink) of a PIL image; ImageError if it is zero-sized."""
    if img.width == 0 or img.height == 0:
        raise ImageError(f"zero-sized image ({img.width}x{img.height} pixels)")
    ink, stroke, tight = ink_map(to_pixels(img))
    mask, strong_level = ink_mask(ink)
    return ink, without_ruled_lines(mask, stroke), strong_level, tight


def drawn_digit(ink, mask, strong_level, tight):
    """The digit from ink_layers' output, binary at step 6's scale with its strokes as drawn
    (framing.digit_binary): its components chosen (all of a tight crop's but specks)."""
    return digit_binary(ink, select_digit(mask, ink, whole=tight), strong_level)
