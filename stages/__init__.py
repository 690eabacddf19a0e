"""The pipeline's stages, one script each, run by dvc.yaml as `python -m stages.<name>`.

Running them as modules puts the working directory first on the import path, so each stage imports
the `mnist_pipeline` next to it: in a DVC experiment's temporary copy, that copy's code.
"""
