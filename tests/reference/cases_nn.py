"""Reference cases for nn's functional layers: convolution, pooling, normalisation,
linear and dropout-free compositions (nn/conv.h, nn/norm.h, nn/functional.h)."""
import torch
import torch.nn.functional as F

from refcase import Case, distinct, randn


def cases():
    return [
        Case("linear.bias", F.linear, lambda: [randn(4, 3), randn(2, 3), randn(2)]),
        Case("linear.batched_nobias", F.linear, lambda: [randn(2, 3, 3), randn(2, 3)]),
        Case("conv2d.basic", F.conv2d, lambda: [randn(2, 2, 5, 5), randn(3, 2, 3, 3), randn(3)]),
        Case("conv2d.stride_pad", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
             lambda: [randn(1, 2, 5, 6), randn(2, 2, 3, 3), randn(2)]),
        Case("conv2d.dilation_rect", lambda x, w: F.conv2d(x, w, None, stride=(1, 2), padding=(2, 1), dilation=(2, 1)),
             lambda: [randn(1, 2, 5, 5), randn(2, 2, 2, 3)]),
        Case("conv2d.groups", lambda x, w, b: F.conv2d(x, w, b, groups=2),
             lambda: [randn(2, 4, 4, 4), randn(4, 2, 3, 3), randn(4)]),
        Case("conv2d.same", lambda x, w: F.conv2d(x, w, None, padding="same"),
             lambda: [randn(1, 2, 4, 5), randn(2, 2, 2, 3)]),
        Case("conv2d.f64", lambda x, w: F.conv2d(x, w, None, padding=1),
             lambda: [randn(1, 1, 4, 4, dtype=torch.float64), randn(2, 1, 3, 3, dtype=torch.float64)]),
        Case("conv1d.basic", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1),
             lambda: [randn(2, 3, 7), randn(2, 3, 3), randn(2)]),
        Case("conv1d.dilation_groups", lambda x, w: F.conv1d(x, w, None, dilation=2, groups=2),
             lambda: [randn(1, 4, 8), randn(2, 2, 3)]),
        Case("conv_transpose2d.basic", F.conv_transpose2d,
             lambda: [randn(1, 2, 3, 3), randn(2, 3, 3, 3), randn(3)]),
        Case("conv_transpose2d.stride_pad_outpad",
             lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
             lambda: [randn(2, 2, 3, 2), randn(2, 2, 3, 3), randn(2)]),
        Case("conv_transpose2d.groups", lambda x, w: F.conv_transpose2d(x, w, None, stride=2, groups=2),
             lambda: [randn(1, 4, 2, 2), randn(4, 1, 2, 2)]),
        Case("max_pool2d.basic", lambda x: F.max_pool2d(x, 2), lambda: [distinct(2, 2, 4, 4)]),
        Case("max_pool2d.stride_pad", lambda x: F.max_pool2d(x, 3, stride=2, padding=1), lambda: [distinct(1, 2, 5, 5)]),
        Case("max_pool2d.unbatched", lambda x: F.max_pool2d(x, (2, 3)), lambda: [distinct(2, 4, 6)]),
        Case("max_pool2d.resnet_stem", lambda x: F.max_pool2d(x, 3, stride=2, padding=1), lambda: [distinct(2, 3, 8, 8)]),
        Case("max_pool2d_with_indices.overlap", lambda x: F.max_pool2d(x, 3, stride=1, padding=1, return_indices=True),
             lambda: [distinct(2, 3, 5, 6)]),
        Case("max_pool2d_with_indices.dilation_rect",
             lambda x: F.max_pool2d(x, (2, 3), stride=(2, 1), padding=(1, 1), dilation=(2, 1), return_indices=True),
             lambda: [distinct(1, 2, 7, 6)]),
        Case("max_pool2d_with_indices.f64", lambda x: F.max_pool2d(x, 2, stride=1, return_indices=True),
             lambda: [distinct(1, 2, 4, 3, dtype=torch.float64)]),
        Case("max_pool1d.basic", lambda x: F.max_pool1d(x, 3, stride=2), lambda: [distinct(2, 2, 7)]),
        Case("avg_pool2d.basic", lambda x: F.avg_pool2d(x, 2), lambda: [randn(2, 2, 4, 4)]),
        Case("avg_pool2d.stride_pad", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), lambda: [randn(1, 2, 5, 5)]),
        Case("avg_pool1d.basic", lambda x: F.avg_pool1d(x, 2), lambda: [randn(2, 3, 6)]),
        Case("adaptive_avg_pool2d.one", lambda x: F.adaptive_avg_pool2d(x, 1), lambda: [randn(2, 3, 4, 5)]),
        Case("adaptive_avg_pool2d.uneven", lambda x: F.adaptive_avg_pool2d(x, (2, 3)), lambda: [randn(1, 2, 5, 7)]),
        Case("batch_norm.train2d", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
             lambda: [randn(3, 2, 2, 2), randn(2), randn(2)]),
        Case("batch_norm.train1d", lambda x: F.batch_norm(x, None, None, training=True), lambda: [randn(4, 3)]),
        # running statistics are state, not inputs: fixed constants on both sides
        Case("batch_norm.eval", lambda x, w, b: F.batch_norm(x, torch.tensor([0.1, -0.2, 0.3]),
                                                             torch.tensor([0.5, 1.5, 2.0]), w, b, training=False),
             lambda: [randn(2, 3, 4), randn(3), randn(3)]),
        Case("layer_norm.last", lambda x, w, b: F.layer_norm(x, (4,), w, b), lambda: [randn(3, 4), randn(4), randn(4)]),
        Case("layer_norm.two_dims", lambda x: F.layer_norm(x, (2, 3)), lambda: [randn(2, 2, 3)]),
        Case("group_norm.basic", lambda x, w, b: F.group_norm(x, 2, w, b), lambda: [randn(2, 4, 3), randn(4), randn(4)]),
        # End to end, llm.c's test_gpt2 style: a small CNN's loss and the gradient of every
        # parameter, conv -> batch norm (training) -> relu -> max pool -> linear -> cross-entropy.
        Case("e2e.cnn_cross_entropy", cnn_loss,
             lambda: [randn(4, 1, 8, 8), randn(4, 1, 3, 3) * 0.5, randn(4) * 0.1, 1 + 0.1 * randn(4), 0.1 * randn(4),
                      randn(10, 64) * 0.2, randn(10) * 0.1, torch.randint(0, 10, (4,))],
             gradgradcheck=False, rtol=2e-4, atol=2e-5),
    ]


def cnn_loss(x, w1, b1, gamma, beta, w2, b2, y):
    h = F.conv2d(x, w1, b1, padding=1)
    h = F.batch_norm(h, None, None, gamma, beta, training=True)
    h = F.max_pool2d(F.relu(h), 2)
    return F.cross_entropy(F.linear(h.flatten(1), w2, b2), y)
