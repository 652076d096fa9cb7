"""Classifier heads on features (latent codes, or raw pixels and PCA for the baselines).

The classic recipe trains and scores its softmax on the test set; we train on the 60,000
training codes and score on the 10,000 test codes, always.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from aecore.core.config import HeadConfig

N_CLASSES = 10
EVAL_CHUNK = 8_192


class Head(nn.Module):
    """Standardises its input with the training features' statistics, then linear or MLP."""

    def __init__(self, n_features: int, cfg: HeadConfig, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        if cfg.head == "linear":
            self.net = nn.Linear(n_features, n_classes)
        else:
            self.net = nn.Sequential(nn.Linear(n_features, cfg.hidden), nn.ReLU(),
                                     nn.Linear(cfg.hidden, n_classes))

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # [B, d] -> logits [B, C]
        return self.net((features - self.mean) / self.std)

    @torch.inference_mode()
    def probabilities(self, features: torch.Tensor) -> torch.Tensor:
        chunks = [F.softmax(self(features[i:i + EVAL_CHUNK].float()), dim=1)
                  for i in range(0, len(features), EVAL_CHUNK)]
        return torch.cat(chunks) if chunks else torch.empty(0, self.n_classes)

    def predict(self, features: torch.Tensor) -> np.ndarray:
        """int64 [N]: each row's most probable class."""
        return self.probabilities(features).argmax(1).numpy()


class NeighbourVote:
    """The labels of a code's k nearest training codes, as probabilities: an answer at once
    (one distance pass, nothing trained) while a trained head is not ready yet."""

    def __init__(self, codes: torch.Tensor, labels: torch.Tensor, k: int = 10,
                 n_classes: int = N_CLASSES) -> None:
        self.codes, self.labels, self.k = codes.float(), labels.long(), min(k, len(codes))
        self.n_classes = n_classes

    @torch.inference_mode()
    def probabilities(self, features: torch.Tensor) -> torch.Tensor:
        nearest = torch.cdist(features.float(), self.codes).topk(self.k, largest=False).indices
        return F.one_hot(self.labels[nearest], self.n_classes).float().mean(1)


def train_head(features: torch.Tensor, labels: torch.Tensor, cfg: HeadConfig,
               n_classes: int = N_CLASSES) -> Head:
    """Adam with a one-cycle schedule on minibatches of the training features [N, d]."""
    torch.manual_seed(cfg.seed)
    features = features.float()
    head = Head(features.shape[1], cfg, n_classes)
    head.mean.copy_(features.mean(0))
    head.std.copy_(features.std(0).clamp_min(1e-6))
    n = len(features)
    steps = math.ceil(n / cfg.batch_size)
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.epochs * steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    head.train()
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            loss = F.cross_entropy(head(features[idx]), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return head.eval()


def scores(predicted: torch.Tensor, labels: torch.Tensor, n_classes: int = N_CLASSES) -> dict:
    """Accuracy, per-class accuracy (recall) and the confusion matrix [true][predicted]."""
    confusion = torch.zeros(n_classes, n_classes, dtype=torch.long)
    confusion.index_put_((labels, predicted), torch.ones_like(labels), accumulate=True)
    per_class = confusion.diag().float() / confusion.sum(1).clamp_min(1).float()
    return {
        "accuracy": float((predicted == labels).float().mean()),
        "per_class": [round(float(v), 4) for v in per_class],
        "confusion": confusion.tolist(),
    }


def fit_and_score(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                  test_y: torch.Tensor, cfg: HeadConfig,
                  n_classes: int = N_CLASSES) -> tuple[Head, dict]:
    head = train_head(train_x, train_y, cfg, n_classes)
    test = scores(head.probabilities(test_x).argmax(1), test_y, n_classes)
    train_acc = float((head.probabilities(train_x).argmax(1) == train_y).float().mean())
    return head, {"test_accuracy": test["accuracy"], "train_accuracy": train_acc,
                  "per_class": test["per_class"], "confusion": test["confusion"]}


def pca_features(train_pixels: torch.Tensor, test_pixels: torch.Tensor,
                 k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The baseline at the same size as the codes: k principal components of the pixels."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=k, svd_solver="randomized", random_state=0).fit(train_pixels.numpy())
    return (torch.from_numpy(pca.transform(train_pixels.numpy())).float(),
            torch.from_numpy(pca.transform(test_pixels.numpy())).float())
