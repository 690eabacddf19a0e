"""The training augmentation: a random affine warp and random picture changes, per image, as TensorFlow ops.

Reads batches of images (B, 28, 28, 1) in [0, 1] and the `train.augment` params (schema.Augment); returns
augmented batches of the same shape. Every random draw comes from the stateless seed given, so a batch's
augmentation depends only on that seed. The picture changes imitate what real pictures do to a digit:
strokes thicker or thinner (pen width), a line of ink across the digit (ruled or squared paper, a form's box,
a strike-through), blur (focus, resolution), a part hidden (occlusion), grey paper and faded ink (contrast),
sensor noise; each is applied to PICTURE_SHARE of the images, at a random strength up to its param.
"""
import math

from mnist_pipeline.tf_runtime import keras, tf

PICTURE_SHARE = 0.5        # share of the images each picture change is applied to
BLUR_SIGMA = 1.0           # px: the Gaussian that `blur` blends toward
LINE_OFFSET_PX = 9         # a line passes at most this far from the image's centre
LINE_WIDTH_PX = (1.0, 2.5)  # its width is drawn from this range
DASH_PERIOD_PX = (3.0, 6.0)  # half the lines are dashed (on half of each period), the period drawn from this range
PICTURE_FIELDS = ("stroke", "lines", "blur", "erase_px", "contrast", "noise")


def random_affine(images, seed, augment):
    """Warps each image by its own random rotation, zoom and shift within `augment` (bilinear, zero fill)."""
    n = tf.shape(images)[0]
    size = tf.cast(tf.shape(images)[1:3], tf.float32)
    u = tf.random.stateless_uniform((n, 4), seed=seed, minval=-1.0, maxval=1.0)
    angle = u[:, 0] * augment.rotation_deg * math.pi / 180
    scale = 1.0 + u[:, 1] * augment.zoom
    shift_x, shift_y = u[:, 2] * augment.shift_px, u[:, 3] * augment.shift_px
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    cx, cy = (size[1] - 1) / 2, (size[0] - 1) / 2
    # Maps each output pixel (x, y) back to the input pixel it samples.
    transforms = tf.stack([cos, -sin, cx - cos * cx + sin * cy + shift_x,
                           sin, cos, cy - sin * cx - cos * cy + shift_y,
                           tf.zeros_like(cos), tf.zeros_like(cos)], axis=1)
    return keras.ops.image.affine_transform(images, transforms, interpolation="bilinear", fill_mode="constant",
                                            fill_value=0, data_format="channels_last")


def shifted(x, radius, axis):
    """The copies of `x` (B, H, W, 1) shifted by -radius..radius px along `axis` (1: rows, 2: columns), zero
    filled: a separable neighbourhood from elementwise ops, far cheaper here than 1-channel pooling or
    convolution kernels."""
    size = x.shape[axis]
    pad = [[0, 0]] * 4
    pad[axis] = [radius, radius]
    padded = tf.pad(x, pad)
    window = [slice(None)] * 4
    copies = []
    for k in range(2 * radius + 1):
        window[axis] = slice(k, k + size)
        copies.append(padded[tuple(window)])
    return tf.stack(copies)


def dilated(x):
    """The 3x3 grey dilation of `x`: every stroke one pixel thicker."""
    return tf.reduce_max(shifted(tf.reduce_max(shifted(x, 1, 1), axis=0), 1, 2), axis=0)


def blurred(x, sigma=BLUR_SIGMA, radius=2):
    """`x` convolved with a Gaussian of `sigma` px (separable, truncated at `radius`)."""
    weights = [math.exp(-k * k / (2 * sigma * sigma)) for k in range(-radius, radius + 1)]
    weights = tf.reshape(tf.constant(weights) / sum(weights), (-1, 1, 1, 1, 1))
    rows = tf.reduce_sum(weights * shifted(x, radius, 1), axis=0)
    return tf.reduce_sum(weights * shifted(rows, radius, 2), axis=0)


def uniform(u, bounds):
    """`u` in [0, 1) mapped onto the range `bounds` (low, high)."""
    return bounds[0] + u * (bounds[1] - bounds[0])


def random_lines(images, seed, strength):
    """Each image with a straight line of ink across it: a random angle, passing within LINE_OFFSET_PX of the
    centre, anti-aliased, solid or (for half) dashed; its ink is `strength` (B,) of full ink, 0 for no line."""
    n = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    u = tf.random.stateless_uniform((n, 5), seed=seed)
    angle = per_image(u[:, 0] * math.pi)
    offset = per_image((2 * u[:, 1] - 1) * LINE_OFFSET_PX)
    half_width = per_image(uniform(u[:, 2], LINE_WIDTH_PX) / 2)
    period = per_image(uniform(u[:, 3], DASH_PERIOD_PX))
    dashed = per_image(tf.cast(u[:, 4] < 0.5, tf.float32))
    y = tf.range(height, dtype=tf.float32)[None, :, None, None] - (height - 1) / 2
    x = tf.range(width, dtype=tf.float32)[None, None, :, None] - (width - 1) / 2
    across = tf.abs(x * tf.cos(angle) + y * tf.sin(angle) - offset)
    along = y * tf.cos(angle) - x * tf.sin(angle)
    ink = tf.clip_by_value(half_width + 0.5 - across, 0.0, 1.0)
    gaps = dashed * tf.cast(tf.math.floormod(along, period) >= period / 2, tf.float32)
    return tf.maximum(images, per_image(strength) * ink * (1 - gaps))


def per_image(values):
    """(B,) values shaped (B, 1, 1, 1) to scale a batch of images."""
    return tf.reshape(values, (-1, 1, 1, 1))


def random_picture(images, seed, augment):
    """Each image changed like a real picture: per change of PICTURE_FIELDS, PICTURE_SHARE of the images get it,
    at a strength drawn uniformly up to its `augment` value (see schema.Augment for each field's meaning)."""
    n = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    draw_seed, on_seed, noise_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    u = tf.random.stateless_uniform((n, 8), seed=draw_seed)
    on = tf.cast(tf.random.stateless_uniform((n, 5), seed=on_seed) < PICTURE_SHARE, tf.float32)

    x = images
    if augment.stroke:  # grey dilation (thicker) or erosion (thinner), blended in by up to `stroke`
        t = per_image(on[:, 0] * (2 * u[:, 0] - 1) * augment.stroke)
        x = x + tf.nn.relu(t) * (dilated(x) - x) + tf.nn.relu(-t) * (-dilated(-x) - x)
    if augment.lines:  # its own draws, so that the other changes draw as they did before lines existed
        line_seed = tf.random.experimental.stateless_fold_in(seed, 1)
        line_draws = tf.random.stateless_uniform((n, 2), seed=tf.random.experimental.stateless_fold_in(seed, 2))
        strength = tf.cast(line_draws[:, 0] < PICTURE_SHARE, tf.float32) * line_draws[:, 1] * augment.lines
        x = random_lines(x, line_seed, strength)
    if augment.blur:
        x = x + per_image(on[:, 1] * u[:, 1] * augment.blur) * (blurred(x) - x)
    if augment.erase_px:  # a square of side up to erase_px at a random place set to the background
        side = on[:, 2] * tf.round(u[:, 2] * augment.erase_px)
        top, left = u[:, 3] * (height - side), u[:, 4] * (width - side)
        rows = tf.range(height, dtype=tf.float32)[None, :, None]
        cols = tf.range(width, dtype=tf.float32)[None, None, :]
        inside = ((rows >= per_image(top)[..., 0]) & (rows < per_image(top + side)[..., 0])
                  & (cols >= per_image(left)[..., 0]) & (cols < per_image(left + side)[..., 0]))
        x = x * (1 - tf.cast(inside, tf.float32)[..., None])
    if augment.contrast:  # grey paper and faded ink: background up to `contrast`, ink down by up to it
        paper = per_image(on[:, 3] * u[:, 5] * augment.contrast)
        ink = 1 - per_image(on[:, 3] * u[:, 6] * augment.contrast)
        x = paper + (ink - paper) * x
    if augment.noise:
        sd = per_image(on[:, 4] * u[:, 7] * augment.noise)
        x = x + sd * tf.random.stateless_normal(tf.shape(x), seed=noise_seed)
    return tf.clip_by_value(x, 0.0, 1.0)


def augmented(images, seed, augment):
    """`images` warped (random_affine, when any of its fields is non-zero), then changed (random_picture, when
    any picture change is on)."""
    if augment.rotation_deg or augment.zoom or augment.shift_px:
        images = random_affine(images, seed, augment)
    if any(getattr(augment, field) for field in PICTURE_FIELDS):
        images = random_picture(images, tf.random.experimental.stateless_fold_in(seed, 1), augment)
    return images
