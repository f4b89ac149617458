#!/usr/bin/env python3
"""Regenerates tests/reference/data/metrics/metrics.txt: scikit-learn's top-k accuracy, ROC
curves and ROC AUC, PyTorch's perplexity (exp of cross_entropy) and nltk's BLEU, read by
tests/nn/metrics_ext_test.cpp.

    /usr/bin/python3 tests/reference/gen_metrics.py

Inputs are random (numpy RandomState with fixed seeds) except for BLEU on the committed,
hand-written corpus tests/reference/data/metrics/bleu_corpus.txt (read with str.split()).

File format: one record per line, tokens separated by spaces, '#' lines are comments.
Numbers are Python reprs (exact for float64; "nan" for NaN).

    top_k <name> <k> <N> <C> <scores N*C> <target N> <expected>
    roc_auc <name> <average> <N> <C> <scores> <target N> <expected>
        average "binary" has C = 0 and N scores; otherwise N*C scores (rows sum to 1)
    roc_curve <name> <N> <scores N> <target N> <M> <fpr M> <tpr M> <thresholds M>
    perplexity <name> <dtype> <ignore_index> <N> <C> <log_probs N*C> <target N> <expected>
    bleu_text <max_n> <smoothing> <corpus score> <sentence score of each block>
        BLEU of the hand-written corpus with uniform weights
    bleu <name> <max_n> <smoothing> <W> <weights W> <expected>
        a random corpus follows, one line per sentence, and a closing "end" line:
        "hyp <tokens...>" starts a sentence, each "ref <tokens...>" adds a reference to it
"""
import pathlib
import warnings

import numpy as np
import sklearn
import torch
import torch.nn.functional as F
import nltk
from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu, sentence_bleu
from sklearn.metrics import roc_auc_score, roc_curve, top_k_accuracy_score

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE / "data" / "metrics"


def fmt(x):
    return repr(float(x))


def nums(values):
    return " ".join(fmt(v) for v in np.asarray(values, dtype=np.float64).reshape(-1))


def ints(values):
    return " ".join(str(int(v)) for v in np.asarray(values).reshape(-1))


def top_k_cases(out):
    rng = np.random.RandomState(1)
    for i in range(24):
        n, c = rng.randint(1, 40), rng.randint(3, 8)
        k = rng.randint(1, c + 2)
        if i % 3 == 0:  # few distinct values: many ties
            scores = rng.randint(0, 3, size=(n, c)).astype(np.float64)
        else:
            scores = rng.randn(n, c)
        target = rng.randint(0, c, size=n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = top_k_accuracy_score(target, scores, k=k, labels=np.arange(c))
        out.append(f"top_k case{i} {k} {n} {c} {nums(scores)} {ints(target)} {fmt(expected)}")


def binary_problem(rng, n, tied):
    target = rng.randint(0, 2, size=n)
    target[0], target[-1] = 0, 1  # both classes present
    scores = rng.rand(n) + 0.3 * target
    if tied:
        scores = np.round(scores * 5) / 5
    return scores, target


def roc_cases(out):
    rng = np.random.RandomState(2)
    for i in range(16):
        n = rng.randint(2, 60)
        scores, target = binary_problem(rng, n, tied=i % 2 == 0)
        fpr, tpr, thr = roc_curve(target, scores)
        out.append(f"roc_curve curve{i} {n} {nums(scores)} {ints(target)} {len(fpr)} {nums(fpr)} {nums(tpr)} "
                   f"{nums(thr)}")
        out.append(f"roc_auc binary{i} binary {n} 0 {nums(scores)} {ints(target)} "
                   f"{fmt(roc_auc_score(target, scores))}")
    # One class only: the curve's fpr (no negatives) is NaN throughout.
    scores, target = np.array([0.1, 0.7, 0.7, 0.3]), np.array([1, 1, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fpr, tpr, thr = roc_curve(target, scores)
    out.append(f"roc_curve all_positive 4 {nums(scores)} {ints(target)} {len(fpr)} {nums(fpr)} {nums(tpr)} "
               f"{nums(thr)}")
    # Every score equal: the diagonal, AUC 0.5.
    scores, target = np.full(6, 0.25), np.array([0, 1, 0, 1, 1, 0])
    fpr, tpr, thr = roc_curve(target, scores)
    out.append(f"roc_curve all_tied 6 {nums(scores)} {ints(target)} {len(fpr)} {nums(fpr)} {nums(tpr)} {nums(thr)}")
    out.append(f"roc_auc all_tied binary 6 0 {nums(scores)} {ints(target)} {fmt(roc_auc_score(target, scores))}")

    for i in range(12):
        n, c = rng.randint(8, 50), rng.randint(3, 6)
        target = np.concatenate([np.arange(c), rng.randint(0, c, size=n - c)])
        rng.shuffle(target)
        logits = rng.randint(0, 3, size=(n, c)).astype(np.float64) if i % 2 == 0 else rng.randn(n, c)
        probs = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
        for average in ("macro", "weighted", "micro"):
            expected = roc_auc_score(target, probs, multi_class="ovr", average=average)
            out.append(f"roc_auc ovr{i}_{average} {average} {n} {c} {nums(probs)} {ints(target)} {fmt(expected)}")


def perplexity_cases(out):
    for i, (dtype, n, c, ignore_index) in enumerate([(torch.float64, 20, 7, -100), (torch.float64, 33, 50, 3),
                                                     (torch.float64, 1, 4, -100), (torch.float32, 40, 11, -1)]):
        g = torch.Generator().manual_seed(10 + i)
        logits = torch.randn(n, c, generator=g, dtype=dtype) * 2
        target = torch.randint(0, c, (n,), generator=g)
        if ignore_index != -100 or i == 0:
            target[::4] = ignore_index
        target[-1] = 1  # at least one counted target
        log_probs = torch.log_softmax(logits, dim=1)
        expected = torch.exp(F.cross_entropy(logits, target, ignore_index=ignore_index)).item()
        name = "float64" if dtype == torch.float64 else "float32"
        out.append(f"perplexity case{i} {name} {ignore_index} {n} {c} {nums(log_probs)} {ints(target)} {fmt(expected)}")


def smoothing_function(method):
    return getattr(SmoothingFunction(), f"method{method}")


def text_corpus():
    blocks, current = [], None
    for line in (DATA / "bleu_corpus.txt").read_text().splitlines():
        if line.startswith("H "):
            current = (line[2:].split(), [])
            blocks.append(current)
        elif line.startswith("R "):
            current[1].append(line[2:].split())
    return blocks


def bleu_or_none(fn):
    """nltk's score, or None where nltk refuses (method 6's assertion)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn()
        except (AssertionError, IndexError):
            return None


def bleu_text_cases(out):
    blocks = text_corpus()
    refs, hyps = [b[1] for b in blocks], [b[0] for b in blocks]
    for max_n in (1, 2, 4):
        weights = tuple([1.0 / max_n] * max_n)
        for method in range(8):
            corpus = bleu_or_none(lambda: corpus_bleu(refs, hyps, weights, smoothing_function(method)))
            sentences = [bleu_or_none(lambda: sentence_bleu(r, h, weights, smoothing_function(method)))
                         for r, h in zip(refs, hyps)]
            if corpus is None or None in sentences:
                continue
            out.append(f"bleu_text {max_n} {method} {fmt(corpus)} {nums(sentences)}")


def bleu_random_cases(out):
    rng = np.random.RandomState(3)
    vocab = ["a", "b", "c", "d", "e", "f"]

    def sentence(length):
        return [vocab[j] for j in rng.randint(0, len(vocab), size=length)]

    def mutate(tokens):
        tokens = list(tokens)
        for _ in range(rng.randint(0, 4)):
            op = rng.randint(0, 3)
            if op == 0 and tokens:
                tokens.pop(rng.randint(0, len(tokens)))
            elif op == 1:
                tokens.insert(rng.randint(0, len(tokens) + 1), vocab[rng.randint(0, len(vocab))])
            elif tokens:
                tokens[rng.randint(0, len(tokens))] = vocab[rng.randint(0, len(vocab))]
        return tokens

    written = 0
    for i in range(400):
        if written >= 48:
            break
        size = rng.randint(1, 6)
        hyps = [sentence(rng.randint(0 if i % 7 == 0 else 1, 12)) for _ in range(size)]
        refs = [[mutate(h) if rng.rand() < 0.8 else sentence(rng.randint(1, 12)) for _ in range(rng.randint(1, 4))]
                for h in hyps]
        refs = [[r if r else ["a"] for r in rs] for rs in refs]
        max_n = rng.randint(1, 5)
        method = i % 8
        weights = tuple([1.0 / max_n] * max_n) if i % 5 else tuple(rng.dirichlet(np.ones(max_n)))
        score = bleu_or_none(lambda: corpus_bleu(refs, hyps, weights, smoothing_function(method)))
        if score is None:
            continue
        out.append(f"bleu random{i} {max_n} {method} {max_n} {nums(weights)} {fmt(score)}")
        for h, rs in zip(hyps, refs):
            out.append(" ".join(["hyp"] + h))
            out.extend(" ".join(["ref"] + r) for r in rs)
        out.append("end")
        written += 1


def main():
    out = [f"# generated by tests/reference/gen_metrics.py with scikit-learn {sklearn.__version__}, "
           f"torch {torch.__version__}, nltk {nltk.__version__}; do not edit",
           "# format described in gen_metrics.py"]
    top_k_cases(out)
    roc_cases(out)
    perplexity_cases(out)
    bleu_text_cases(out)
    bleu_random_cases(out)
    path = DATA / "metrics.txt"
    path.write_text("\n".join(out) + "\n")
    print(f"wrote {len(out)} lines to {path}")


if __name__ == "__main__":
    main()
