// Everything in kiln::nn::optim: the optimizers, learning-rate schedulers, gradient
// clipping and the loss scaler of mixed precision (grad_scaler.h). Start with
// nn/optim/optimizer.h (the base) and nn/optim/sgd.cpp.
#pragma once

#include "nn/optim/adagrad.h"
#include "nn/optim/adam.h"
#include "nn/optim/clip.h"
#include "nn/optim/grad_scaler.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/rmsprop.h"
#include "nn/optim/scheduler.h"
#include "nn/optim/sgd.h"
