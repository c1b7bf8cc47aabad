"""Gradient penalty against hand-computed values; the logistic losses against their formulas."""

from __future__ import annotations

import math

import torch
from torch import nn

from synthmed.gan import losses


class LinearCritic(nn.Module):
    """D(x) = sum(w * x): its input gradient is w everywhere, so ||grad|| = ||w||."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1)


class SquareCritic(nn.Module):
    """D(x) = 0.5 * c * sum(x^2): input gradient c * x."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c))

    def forward(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        return 0.5 * self.c * x.square().flatten(1).sum(1)


def test_gradient_penalty_linear_critic() -> None:
    # w = 2 on a 1x2x2 image: ||grad|| = sqrt(4 * 2^2) = 4, penalty (4 - 1)^2 = 9 for every sample.
    D = LinearCritic(torch.full((1, 2, 2), 2.0))
    real, fake = torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2)
    gp = losses.gradient_penalty(D, real, fake, None)
    assert math.isclose(gp.item(), 9.0, rel_tol=1e-6)


def test_gradient_penalty_hand_checked_interpolation_and_its_gradient() -> None:
    # x_hat = a*real + (1-a)*fake with a = 0.25: real = 4 (4 pixels), fake = 0 -> x_hat = 1 per pixel.
    # D = 0.5*c*sum(x^2) with c = 1: grad = x_hat, ||grad|| = sqrt(4) = 2, penalty (2-1)^2 = 1.
    # Second sample a = 0.5, real = 2, fake = 0: x_hat = 1 as well -> penalty 1. Mean 1.
    # d(penalty)/dc: ||grad|| = 2c, penalty = (2c-1)^2, derivative 4(2c-1) = 4 at c = 1.
    D = SquareCritic(1.0)
    real = torch.stack([torch.full((1, 2, 2), 4.0), torch.full((1, 2, 2), 2.0)])
    fake = torch.zeros(2, 1, 2, 2)
    gp = losses.gradient_penalty(D, real, fake, None, alpha=torch.tensor([0.25, 0.5]))
    assert math.isclose(gp.item(), 1.0, rel_tol=1e-6)
    gp.backward()
    assert math.isclose(D.c.grad.item(), 4.0, rel_tol=1e-6)


def test_logistic_losses_match_their_formulas() -> None:
    logits = torch.tensor([-2.0, 0.0, 3.0])
    sig = torch.sigmoid(logits)
    torch.testing.assert_close(losses.d_logistic_real(logits), -torch.log(sig).mean())
    torch.testing.assert_close(losses.d_logistic_fake(logits), -torch.log(1 - sig).mean())
    torch.testing.assert_close(losses.g_nonsaturating(logits), -torch.log(sig).mean())
    # and the library's BCE agrees
    bce = nn.functional.binary_cross_entropy_with_logits(logits, torch.zeros(3))
    torch.testing.assert_close(losses.d_logistic_fake(logits), bce)


def test_wasserstein_real_loss_with_drift_hand_computed() -> None:
    # scores 1 and 3: -mean = -2; mean of squares = (1 + 9) / 2 = 5; with drift 0.1: -2 + 0.5 = -1.5
    scores = torch.tensor([1.0, 3.0])
    assert losses.wasserstein_critic_real(scores).item() == -2.0
    assert math.isclose(losses.wasserstein_critic_real(scores, drift=0.1).item(), -1.5, rel_tol=1e-6)
    # the fake term and the generator's loss: +mean and -mean
    assert losses.wasserstein_critic_fake(scores).item() == 2.0
    assert losses.wasserstein_generator(scores).item() == -2.0


def test_input_gradient_cosine_hand_computed() -> None:
    from synthmed.gan.diagnostics import input_gradient_cosine

    # A linear critic has the same input gradient everywhere: cosine 1.
    images = torch.randn(5, 1, 2, 2)
    assert math.isclose(input_gradient_cosine(LinearCritic(torch.randn(1, 2, 2)), images, None), 1.0, rel_tol=1e-6)
    # D = 0.5 * sum(x^2) has gradient x: images (1, 1, 0, 0) and (1, 0, 0, 0) -> cosine 1/sqrt(2).
    pair = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]).view(2, 1, 2, 2)
    assert math.isclose(input_gradient_cosine(SquareCritic(1.0), pair, None), 2**-0.5, rel_tol=1e-6)
    # orthogonal images -> 0
    assert input_gradient_cosine(SquareCritic(1.0), torch.eye(4).view(4, 1, 2, 2), None) == 0.0
