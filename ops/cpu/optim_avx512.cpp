// The optimizer loops of ops/cpu/optim_loops.h compiled with AVX-512 (this file's -m
// flags come from its name, CMakeLists.txt); ops/cpu/optim.cpp enters them only when
// active_isa() is Avx512. Note [Optimizer loops per ISA].
#include "ops/cpu/optim_loops.h"

namespace kiln::cpu {

const OptimLoops<float>& optim_loops_avx512_f32() {
  static const OptimLoops<float> loops = make_optim_loops<float>();
  return loops;
}

const OptimLoops<double>& optim_loops_avx512_f64() {
  static const OptimLoops<double> loops = make_optim_loops<double>();
  return loops;
}

}  // namespace kiln::cpu
