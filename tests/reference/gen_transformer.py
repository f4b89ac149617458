#!/usr/bin/env python3
"""Reference values for kiln's Transformer layers (nn/transformer.h), read by
tests/nn/transformer_test.cpp:

    python3 tests/reference/gen_transformer.py    # writes tests/reference/data/transformer.txt

Each case builds a torch.nn layer (or stack) with a fixed seed, sets every parameter to
random values (so zero-initialised biases and unit norms are exercised too), runs it in eval
mode (dropout off) and records its state_dict, inputs, masks, output, the output gradient fed
back, and the gradients of the inputs and of every parameter. Format, one record a line:

  case <name> kind=encoder|decoder|encoder_stack|decoder_stack d_model= nhead= dim_feedforward=
       activation= layer_norm_eps= batch_first=0|1 norm_first=0|1 num_layers= final_norm=0|1
  tensor <key> <dtype> <ndim> <dims...> <values...>   (float32 values with 9 significant digits: exact)
        keys: param.<state_dict name>, src, tgt, memory, <mask name>, out, gout,
              grad.<input name>, grad.param.<state_dict name>
  end
"""
import pathlib

import torch
import torch.nn as nn

HERE = pathlib.Path(__file__).resolve().parent
D_MODEL, NHEAD, FF = 8, 2, 16
DTYPES = {torch.float32: "float32", torch.bool: "bool"}


def tensor_line(key, t):
    t = t.detach().contiguous()
    flat = t.reshape(-1).tolist()
    vals = ["1" if v else "0" for v in flat] if t.dtype == torch.bool else [format(v, ".9g") for v in flat]
    return " ".join(["tensor", key, DTYPES[t.dtype], str(t.dim())] + [str(d) for d in t.shape] + vals)


def causal(n):
    return torch.triu(torch.full((n, n), float("-inf")), diagonal=1)


def make_case(name, kind, activation, batch_first, norm_first, num_layers=1, final_norm=False):
    torch.manual_seed(sum(map(ord, name)))
    args = dict(d_model=D_MODEL, nhead=NHEAD, dim_feedforward=FF, dropout=0.1, activation=activation,
                batch_first=batch_first, norm_first=norm_first)
    if kind.startswith("encoder"):
        layer = nn.TransformerEncoderLayer(**args)
        model = layer if kind == "encoder" else nn.TransformerEncoder(
            layer, num_layers, norm=nn.LayerNorm(D_MODEL) if final_norm else None)
    else:
        layer = nn.TransformerDecoderLayer(**args)
        model = layer if kind == "decoder" else nn.TransformerDecoder(
            layer, num_layers, norm=nn.LayerNorm(D_MODEL) if final_norm else None)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape) * 0.4)
    model.eval()

    def seq(length):
        return torch.randn(N_BATCH, length, D_MODEL) if batch_first else torch.randn(length, N_BATCH, D_MODEL)

    T, S = 3, 4
    inputs, masks = {}, {}
    if kind.startswith("encoder"):
        inputs["src"] = seq(S)
        masks["src_mask"] = causal(S)
        masks["src_key_padding_mask"] = torch.tensor([[False, False, False, True], [False, False, True, True]])
        if norm_first:  # a bool mask (true = not allowed) instead of the float one
            masks["src_mask"] = torch.ones(S, S, dtype=torch.bool).triu(1)
    else:
        inputs["tgt"] = seq(T)
        inputs["memory"] = seq(S)
        masks["tgt_mask"] = causal(T)
        masks["memory_key_padding_mask"] = torch.tensor([[False, False, True, False], [False, False, False, True]])
        if norm_first:
            masks["memory_mask"] = torch.tensor([[False, True, False, False], [False, False, False, False],
                                                 [True, False, False, False]])
            masks["tgt_key_padding_mask"] = torch.tensor([[False, False, False], [False, False, True]])
    for x in inputs.values():
        x.requires_grad_(True)
    if kind.startswith("encoder"):
        mask_arg = "src_mask" if kind == "encoder" else "mask"
        out = model(inputs["src"], **{mask_arg: masks["src_mask"]},
                    src_key_padding_mask=masks["src_key_padding_mask"])
    else:
        out = model(inputs["tgt"], inputs["memory"], **masks)
    gout = torch.randn(out.shape)
    params = dict(model.named_parameters())
    grads = torch.autograd.grad(out, list(inputs.values()) + list(params.values()), gout)

    flags = dict(kind=kind, d_model=D_MODEL, nhead=NHEAD, dim_feedforward=FF, activation=activation,
                 layer_norm_eps=1e-5, batch_first=int(batch_first), norm_first=int(norm_first),
                 num_layers=num_layers, final_norm=int(final_norm))
    lines = ["case " + name + " " + " ".join(f"{k}={v}" for k, v in flags.items())]
    for key, value in model.state_dict().items():
        lines.append(tensor_line("param." + key, value))
    for key, value in list(inputs.items()) + list(masks.items()):
        lines.append(tensor_line(key, value))
    lines.append(tensor_line("out", out))
    lines.append(tensor_line("gout", gout))
    for key, g in zip(list(inputs) + ["param." + k for k in params], grads):
        lines.append(tensor_line("grad." + key, g))
    lines.append("end")
    return lines


N_BATCH = 2


def main():
    lines = [f"# generated by tests/reference/gen_transformer.py with torch {torch.__version__}; do not edit"]
    lines += make_case("encoder.post_relu", "encoder", "relu", batch_first=False, norm_first=False)
    lines += make_case("encoder.pre_gelu_batch_first", "encoder", "gelu", batch_first=True, norm_first=True)
    lines += make_case("decoder.post_relu", "decoder", "relu", batch_first=False, norm_first=False)
    lines += make_case("decoder.pre_gelu_batch_first", "decoder", "gelu", batch_first=True, norm_first=True)
    lines += make_case("encoder_stack.two_layers_norm", "encoder_stack", "relu", batch_first=False, norm_first=False,
                       num_layers=2, final_norm=True)
    lines += make_case("decoder_stack.two_layers_norm", "decoder_stack", "gelu", batch_first=True, norm_first=False,
                       num_layers=2, final_norm=True)
    out = HERE / "data" / "transformer.txt"
    out.write_text("\n".join(lines) + "\n")
    print(f"{out.relative_to(HERE.parent.parent)}: {sum(1 for x in lines if x.startswith('case '))} cases")


if __name__ == "__main__":
    main()
