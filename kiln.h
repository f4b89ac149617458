// The one header a user includes: tensors, factories, every op, autograd.
#pragma once

#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "core/factory.h"
#include "core/tensor.h"
#include "ops/binary.h"
#include "ops/ctc.h"
#include "ops/im2col.h"
#include "ops/index.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "ops/unary.h"
#include "ops/view.h"
