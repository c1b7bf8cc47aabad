"""synthmed: GAN-made synthetic medical images, validated and tested on real data.

The package is laid out by workflow stage: ``prepare`` -> ``gan`` -> ``generate`` ->
``metrics`` -> ``filter`` -> ``classify`` (train + evaluate) -> ``stats`` -> ``report``,
with ``pipeline`` running them all and ``reader_study`` serving the visual Turing test.
"""

__version__ = "0.1.0"
