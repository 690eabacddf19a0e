"""Reads people's pictures of handwritten digits and classifies them (the `predict.py` command line).

decode (files to float pixels), ink (polarity, background, threshold), rulings (ruled-paper lines),
digit (which piece of ink is the digit), framing (MNIST's 20 px box and centre of mass), prepare
(those steps in order: `prepare_image`), output (result rows, formats, previews), cli (the command
line), styles (renders MNIST digits as such pictures, for the tests and the benchmark).
"""
