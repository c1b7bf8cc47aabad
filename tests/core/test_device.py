"""One device choice for every stage."""

from __future__ import annotations

import pytest
import torch

from synthmed.errors import SynthmedError
from synthmed.utils.device import pick_device


def test_auto_follows_cuda_and_bad_names_fail_in_one_line() -> None:
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(SynthmedError, match="--device gpu0: expected auto, cpu, cuda or cuda:N"):
        pick_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(SynthmedError, match="CUDA is not available"):
            pick_device("cuda:0")


def test_the_stages_share_it() -> None:
    from synthmed.classify import evaluate as classify_evaluate
    from synthmed.classify import train as classify_train
    from synthmed.gan import train as gan_train

    assert classify_train.pick_device is classify_evaluate.pick_device is gan_train.pick_device is pick_device
