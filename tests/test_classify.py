import pytest
import torch

from aecore.analysis.classify import fit_and_score, scores
from aecore.core.config import HeadConfig


def separable(n=400, d=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(10, d, generator=gen) * 5
    labels = torch.arange(n) % 10
    return centres[labels] + torch.randn(n, d, generator=gen), labels


def test_heads_learn_separable_classes():
    both, labels = separable(n=800)
    x, y, tx, ty = both[:400], labels[:400], both[400:], labels[400:]
    for head in ("linear", "mlp"):
        model, report = fit_and_score(x, y, tx, ty, HeadConfig(head=head, epochs=30,
                                                              batch_size=32, lr=1e-2))
        assert report["test_accuracy"] > 0.9, head
        assert len(report["per_class"]) == 10
        probs = model.probabilities(tx[:5])
        assert torch.allclose(probs.sum(1), torch.ones(5), atol=1e-5)


def test_scores_confusion_and_per_class():
    labels = torch.tensor([0, 0, 1, 1, 2])
    predicted = torch.tensor([0, 1, 1, 1, 0])
    s = scores(predicted, labels)
    assert s["accuracy"] == pytest.approx(0.6)
    assert s["confusion"][0][:3] == [1, 1, 0]
    assert s["confusion"][2][0] == 1
    assert s["per_class"][:3] == [0.5, 1.0, 0.0]
    assert sum(map(sum, s["confusion"])) == 5


def test_the_neighbour_vote_answers_with_its_nearest_labels():
    from aecore.analysis.classify import NeighbourVote

    codes = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [5.0, 5.0], [5.1, 5.0]])
    labels = torch.tensor([3, 3, 7, 9, 9])
    vote = NeighbourVote(codes, labels, k=3)
    probs = vote.probabilities(torch.tensor([[0.01, 0.01], [5.0, 5.1]]))
    assert probs.shape == (2, 10) and torch.allclose(probs.sum(1), torch.ones(2))
    assert probs[0, 3] == pytest.approx(2 / 3) and probs[0, 7] == pytest.approx(1 / 3)
    assert probs[1].argmax() == 9 and probs[1, 9] == pytest.approx(2 / 3)
    assert NeighbourVote(codes[:2], labels[:2], k=10).k == 2  # fewer codes than voters
