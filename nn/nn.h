// The whole nn library in one include: modules and layers, losses, optimizers and
// schedulers, data loading, metrics and checkpoints. (kiln.h has tensors, ops, autograd.)
#pragma once

#include "kiln.h"
#include "nn/attention.h"
#include "nn/conv.h"
#include "nn/ctc_loss.h"
#include "nn/data/dataloader.h"
#include "nn/data/idx.h"
#include "nn/functional.h"
#include "nn/gcn.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/loss.h"
#include "nn/metrics/classification.h"
#include "nn/module.h"
#include "nn/norm.h"
#include "nn/optim/optim.h"
#include "nn/rnn.h"
#include "nn/serialize.h"
#include "nn/transformer.h"
