"""Reference cases for nn/attention.h and nn/gcn.h: scaled dot-product attention (written
out with matmul/softmax: torch 1.13 has no F.scaled_dot_product_attention), multi-head
attention through F.multi_head_attention_forward with the weights as case inputs, and
GCNConv as PyG computes it (index_select / scatter_add), with the weights as inputs."""
import math

import torch
import torch.nn.functional as F

from refcase import Case, randn

E, H, L, S, N = 8, 2, 3, 4, 2  # embed dim, heads, target length, source length, batch


def sdpa(q, k, v, attn_mask=None, is_causal=False):
    """torch 2.x's documented reference: bool masks are true = take part; float masks add."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if is_causal:
        keep = torch.ones(q.size(-2), k.size(-2), dtype=torch.bool).tril()
        scores = scores.masked_fill(~keep, float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask
    return torch.softmax(scores, dim=-1) @ v


def mha(q, k, v, w, b, ow, ob, **kw):
    out, weights = F.multi_head_attention_forward(q, k, v, E, H, w, b, None, None, False, 0.0, ow, ob,
                                                  training=False, **kw)
    return (out,) if weights is None else (out, weights)


def mha_kv(q, k, v, w, b, ow, ob, bias_k=None, bias_v=None, add_zero_attn=False, **kw):
    """With the appended key positions of nn.MultiheadAttention(add_bias_kv, add_zero_attn)."""
    out, weights = F.multi_head_attention_forward(q, k, v, E, H, w, b, bias_k, bias_v, add_zero_attn, 0.0, ow, ob,
                                                  training=False, **kw)
    return (out, weights)


def mha_inputs(batch_first=False, unbatched=False, kdim=E, vdim=E):
    def shape(length, dim):
        if unbatched:
            return (length, dim)
        return (N, length, dim) if batch_first else (length, N, dim)

    def make():
        return [randn(*shape(L, E)), randn(*shape(S, kdim)), randn(*shape(S, vdim)),
                randn(3 * E, E) * 0.5, randn(3 * E) * 0.1, randn(E, E) * 0.5, randn(E) * 0.1]
    return make


# key_padding_mask (N, S): true = ignore. attn_mask (L, S): true = not allowed.
KPM = torch.tensor([[False, False, False, True], [False, True, False, True]])
CAUSAL_BOOL = torch.ones(L, L, dtype=torch.bool).triu(1)


def causal_float(n):
    return torch.triu(torch.full((n, n), float("-inf")), diagonal=1)


def gcn(x, edge_index, weight, bias, edge_weight=None):
    """PyG's GCNConv: add_remaining_self_loops, degrees on targets, symmetric normalisation."""
    n = x.size(0)
    row, col = edge_index
    if edge_weight is None:
        edge_weight = torch.ones(row.numel(), dtype=x.dtype)
    not_loop = row != col
    loop_weight = torch.ones(n, dtype=x.dtype)
    loop_weight = loop_weight.index_put((row[~not_loop],), edge_weight[~not_loop])
    loops = torch.arange(n)
    row = torch.cat([row[not_loop], loops])
    col = torch.cat([col[not_loop], loops])
    w = torch.cat([edge_weight[not_loop], loop_weight])
    deg = torch.zeros(n, dtype=x.dtype).scatter_add(0, col, w)
    dinv = deg.pow(-0.5).masked_fill(deg == 0, 0.0)
    norm = dinv[row] * w * dinv[col]
    h = x @ weight.t()
    msg = h.index_select(0, row) * norm.unsqueeze(1)
    out = torch.zeros(n, weight.size(0), dtype=x.dtype).scatter_add(0, col.unsqueeze(1).expand_as(msg), msg)
    return out + bias if bias is not None else out


# 5 nodes; a duplicate edge (1 -> 2 twice), an existing self-loop (3 -> 3) and node 4 with no in-edges
EDGES = torch.tensor([[0, 1, 1, 2, 3, 0, 1, 3], [1, 2, 2, 0, 3, 3, 0, 4]])


def cases():
    return [
        Case("sdpa.basic", sdpa, lambda: [randn(2, 3, 4), randn(2, 4, 4), randn(2, 4, 5)]),
        Case("sdpa.bool_mask", lambda q, k, v, m: sdpa(q, k, v, m),
             lambda: [randn(2, 3, 4), randn(2, 4, 4), randn(2, 4, 3),
                      torch.tensor([[True, False, True, True], [False, True, False, False],
                                    [True, True, True, False]])]),
        Case("sdpa.float_mask", lambda q, k, v, m: sdpa(q, k, v, m),
             lambda: [randn(2, 3, 4), randn(2, 4, 4), randn(2, 4, 3), randn(3, 4)]),
        Case("sdpa.causal_4d", lambda q, k, v: sdpa(q, k, v, is_causal=True),
             lambda: [randn(2, 2, 4, 4), randn(2, 2, 4, 4), randn(2, 2, 4, 3)]),
        Case("sdpa.broadcast_f64", sdpa,
             lambda: [randn(2, 3, 4, dtype=torch.float64), randn(4, 4, dtype=torch.float64),
                      randn(4, 2, dtype=torch.float64)]),
        Case("mha.basic", mha, mha_inputs()),
        Case("mha.key_padding_mask", lambda *x: mha(*x, key_padding_mask=KPM), mha_inputs()),
        Case("mha.causal_float_self", lambda q, k, v, *w: mha(q, q, q, *w, attn_mask=causal_float(L)), mha_inputs()),
        Case("mha.causal_bool_and_padding",
             lambda q, k, v, *w: mha(q, q, q, *w, attn_mask=CAUSAL_BOOL,
                                     key_padding_mask=torch.tensor([[False, False, True], [False, False, False]])),
             mha_inputs()),
        Case("mha.per_head_3d_mask",
             lambda q, k, v, w, b, ow, ob, m: mha(q, k, v, w, b, ow, ob, attn_mask=m, average_attn_weights=False),
             lambda: mha_inputs()() + [randn(N * H, L, S)]),
        Case("mha.float_key_padding_mask",
             lambda q, k, v, w, b, ow, ob, m: mha(q, k, v, w, b, ow, ob, key_padding_mask=m),
             lambda: mha_inputs()() + [randn(N, S)]),
        Case("mha.no_weights", lambda *x: mha(*x, need_weights=False), mha_inputs()),
        Case("mha.unbatched", lambda *x: mha(*x, key_padding_mask=KPM[1]), mha_inputs(unbatched=True)),
        # nn.MultiheadAttention(batch_first=True) transposes (N, L, E) to (L, N, E) and back.
        Case("mha.batch_first_module",
             lambda q, k, v, *w: (lambda r: (r[0].transpose(0, 1), r[1]))(
                 mha(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), *w, key_padding_mask=KPM)),
             mha_inputs(batch_first=True)),
        Case("mha.bias_kv", lambda q, k, v, w, b, ow, ob, bk, bv: mha_kv(q, k, v, w, b, ow, ob, bk, bv),
             lambda: mha_inputs()() + [randn(1, 1, E), randn(1, 1, E)]),
        Case("mha.zero_attn", lambda *x: mha_kv(*x, add_zero_attn=True, average_attn_weights=False), mha_inputs()),
        Case("mha.bias_kv_zero_attn_masks",
             lambda q, k, v, w, b, ow, ob, bk, bv: mha_kv(q, q, q, w, b, ow, ob, bk, bv, True,
                                                          attn_mask=CAUSAL_BOOL, key_padding_mask=KPM[:, :L]),
             lambda: mha_inputs()() + [randn(1, 1, E), randn(1, 1, E)]),
        Case("mha.bias_kv_unbatched_float_masks",
             lambda q, k, v, w, b, ow, ob, bk, bv, m: mha_kv(q, k, v, w, b, ow, ob, bk, bv, True, attn_mask=m,
                                                             key_padding_mask=KPM[1]),
             lambda: mha_inputs(unbatched=True)() + [randn(1, 1, E), randn(1, 1, E), randn(L, S)]),
        Case("mha.kdim_vdim",
             lambda q, k, v, b, ow, ob, wq, wk, wv: mha(q, k, v, None, b, ow, ob, use_separate_proj_weight=True,
                                                        q_proj_weight=wq, k_proj_weight=wk, v_proj_weight=wv),
             lambda: [x for i, x in enumerate(mha_inputs(kdim=5, vdim=6)()) if i != 3]
             + [randn(E, E) * 0.5, randn(E, 5) * 0.5, randn(E, 6) * 0.5]),
        Case("gcn_conv.basic", gcn, lambda: [randn(5, 3), EDGES, randn(4, 3), randn(4)]),
        Case("gcn_conv.edge_weight_nobias", lambda x, ei, w, ew: gcn(x, ei, w, None, ew),
             lambda: [randn(5, 3), EDGES, randn(2, 3), torch.rand(8) + 0.5]),
    ]
