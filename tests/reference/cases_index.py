"""Reference cases for the indexing family (ops/index.h): cat, stack, split, chunk, pad,
index_select, gather, scatter_add, masked_fill, embedding, one_hot, repeat, tril/triu.
Index tensors are fixed or drawn with randint; the kiln side is tests/ops/index_test.cpp."""
import torch
import torch.nn.functional as F

from refcase import Case, randint, randn

f64 = torch.float64


def idx(*values):
    return torch.tensor(values, dtype=torch.int64)


def cases():
    return [
        # cat / stack
        Case("cat.dim0", lambda a, b, c: torch.cat([a, b, c], 0), lambda: [randn(2, 3), randn(1, 3), randn(3, 3)]),
        Case("cat.neg_dim", lambda a, b: torch.cat([a, b], -2), lambda: [randn(2, 3, 2), randn(2, 1, 2)]),
        Case("cat.f64_last", lambda a, b: torch.cat([a, b], 2),
             lambda: [randn(2, 2, 3, dtype=f64), randn(2, 2, 1, dtype=f64)]),
        Case("stack.dim0", lambda a, b, c: torch.stack([a, b, c], 0), lambda: [randn(2, 3), randn(2, 3), randn(2, 3)]),
        Case("stack.neg_dim", lambda a, b: torch.stack([a, b], -1), lambda: [randn(2, 3), randn(2, 3)]),
        # split / chunk (several outputs, each a view)
        Case("split.dim1", lambda x: torch.split(x, 2, 1), lambda: [randn(3, 5)]),
        Case("split_with_sizes.neg_dim", lambda x: torch.split(x, [1, 3], -2), lambda: [randn(4, 3)]),
        Case("chunk.dim0", lambda x: torch.chunk(x, 3, 0), lambda: [randn(5, 2)]),
        Case("chunk.neg_dim", lambda x: torch.chunk(x, 4, -1), lambda: [randn(2, 6)]),
        # pad: constant (negative pads crop) and reflect on 1, 2 and 3 last dims
        Case("pad.constant_1d", lambda x: F.pad(x, (1, 2), value=0.5), lambda: [randn(2, 5)]),
        Case("pad.constant_2d_crop", lambda x: F.pad(x, (1, -1, -1, 2)), lambda: [randn(2, 3, 4)]),
        Case("pad.constant_3d", lambda x: F.pad(x, (1, 0, 0, 1, 1, 1), value=-1.0), lambda: [randn(1, 2, 2, 3)]),
        Case("pad.reflect_1d", lambda x: F.pad(x, (2, 3), mode="reflect"), lambda: [randn(2, 3, 5)]),
        Case("pad.reflect_1d_f64", lambda x: F.pad(x, (3, 1), mode="reflect"), lambda: [randn(2, 4, dtype=f64)]),
        Case("pad.reflect_2d", lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"), lambda: [randn(1, 2, 3, 4)]),
        Case("pad.reflect_3d", lambda x: F.pad(x, (1, 1, 2, 0, 1, 2), mode="reflect"),
             lambda: [randn(1, 1, 3, 3, 3)]),
        # index_select (repeated indices accumulate in the backward)
        Case("index_select.dim0", lambda x, i: torch.index_select(x, 0, i), lambda: [randn(5, 3), idx(4, 0, 2, 2)]),
        Case("index_select.neg_dim", lambda x, i: torch.index_select(x, -1, i), lambda: [randn(2, 3, 4), idx(3, 1)]),
        Case("index_select.f64_dim1", lambda x, i: torch.index_select(x, 1, i),
             lambda: [randn(2, 4, 2, dtype=f64), idx(1, 1, 3, 0, 2)]),
        # gather / scatter_add on dims 0, 1 and a negative dim
        Case("gather.dim0", lambda x, i: torch.gather(x, 0, i), lambda: [randn(3, 4), randint(0, 3, 2, 4)]),
        Case("gather.dim1", lambda x, i: torch.gather(x, 1, i), lambda: [randn(3, 4), randint(0, 4, 3, 5)]),
        Case("gather.neg_dim_small_index", lambda x, i: torch.gather(x, -2, i),
             lambda: [randn(3, 4, 2), randint(0, 4, 2, 3, 1)]),
        Case("scatter_add.dim0", lambda x, i, s: torch.scatter_add(x, 0, i, s),
             lambda: [randn(3, 4), randint(0, 3, 2, 4), randn(2, 4)]),
        # src larger than index: only its index-shaped corner is read (and gets gradient)
        Case("scatter_add.dim1_large_src", lambda x, i, s: torch.scatter_add(x, 1, i, s[:, :3]),
             lambda: [randn(2, 5), randint(0, 5, 2, 3), randn(2, 4)]),
        Case("scatter_add.f64_neg_dim", lambda x, i, s: torch.scatter_add(x, -1, i, s),
             lambda: [randn(2, 2, 3, dtype=f64), randint(0, 3, 2, 2, 4), randn(2, 2, 4, dtype=f64)]),
        # masked_fill: a broadcast mask and a full one
        Case("masked_fill.broadcast", lambda x, m: x.masked_fill(m, 2.5),
             lambda: [randn(3, 4), torch.tensor([[True, False, True, False]])]),
        Case("masked_fill.full_mask", lambda x, m: x.masked_fill(m, -1.0),
             lambda: [randn(2, 3, dtype=f64), torch.tensor([[False, True, True], [True, False, False]])]),
        # embedding: repeated indices, padding_idx
        Case("embedding.repeated", lambda w, i: F.embedding(i, w), lambda: [randn(6, 3), idx(1, 5, 1, 0, 2, 5).view(2, 3)]),
        # padding_idx withholds a gradient the output does depend on, so a finite-difference
        # gradcheck would (rightly) disagree; the gradient is checked against PyTorch's.
        Case("embedding.padding_idx", lambda w, i: F.embedding(i, w, padding_idx=1),
             lambda: [randn(5, 4), idx(1, 3, 1, 4, 0)], gradcheck=False),
        Case("embedding.f64_3d_indices", lambda w, i: F.embedding(i, w),
             lambda: [randn(4, 2, dtype=f64), randint(0, 4, 2, 2, 3)]),
        # one_hot (integer in, integer out: no gradient)
        Case("one_hot.infer", lambda i: F.one_hot(i), lambda: [idx(0, 2, 3, 1).view(2, 2)], grad=False),
        Case("one_hot.num_classes", lambda i: F.one_hot(i, 5), lambda: [idx(4, 0, 2)], grad=False),
        # repeat
        Case("repeat.same_dims", lambda x: x.repeat(2, 3), lambda: [randn(2, 3)]),
        Case("repeat.new_dims", lambda x: x.repeat(2, 1, 2), lambda: [randn(3, 2)]),
        # tril / triu on the last two dims, with batch dims and diagonals
        Case("tril.basic", lambda x: torch.tril(x), lambda: [randn(3, 4)]),
        Case("tril.batch_diag1", lambda x: torch.tril(x, 1), lambda: [randn(2, 3, 4)]),
        Case("triu.neg_diag", lambda x: torch.triu(x, -1), lambda: [randn(2, 4, 3)]),
        Case("triu.f64_diag2", lambda x: torch.triu(x, 2), lambda: [randn(4, 5, dtype=f64)]),
    ]
