"""Classifiers trained on real, synthetic or mixed images, and evaluated on real test images only.

``spec`` parses and resolves training-set specifications (what to train on), ``models`` builds
networks (a small CNN or timm backbones), ``data`` holds images and augmentation, ``train`` the
training loop, ``evaluate`` the test metrics, and ``experiment`` the grid of runs.
"""
