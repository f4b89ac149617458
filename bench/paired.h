// Timing kiln beside a peer framework in the same benchmark: kiln's call is the timed
// iteration, the peer's mean comes from blocks run just before and just after it.
// Used by bench/train_bench.cpp (training steps) and bench/ops_bench.cpp (single ops).
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <functional>
#include <thread>

#include "ops/cpu/parallel.h"
#ifdef KILN_BENCH_HAVE_TORCH
#include "bench/peers/torch_peer.h"
#endif

namespace kiln::bench {

inline double seconds_of(const std::function<void()>& f) {
  auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Mean seconds of the peer's step over at least `min_iters` calls and `min_seconds`.
template <typename PeerPtr>
double time_peer(const PeerPtr& peer, int min_iters, double min_seconds) {
  double total = 0;
  int n = 0;
  while (n < min_iters || total < min_seconds) {
    total += seconds_of([&] { benchmark::DoNotOptimize(peer->step()); });
    ++n;
  }
  return total / n;
}

// Note [Peer BLAS threads]
// Debian's libtorch runs its GEMMs in OpenBLAS, whose thread pool and libtorch's OpenMP
// pool both want every core; which setting is faster depends on the workload (on 2 cores
// an LSTM step of libtorch took 377 ms with OpenBLAS on 2 threads and 124 ms on 1). So
// the peer gets the better of OpenBLAS on 1 thread and on kiln's thread count, chosen
// per benchmark during the warm-up, and the choice is reported (peer_blas_threads).
// Returns 0 when libtorch did not load OpenBLAS.
template <typename PeerPtr>
int choose_peer_blas_threads(const PeerPtr& peer) {
#ifdef KILN_BENCH_HAVE_TORCH
  const int all = cpu::num_threads();
  int best_threads = 0;
  double best = 0;
  for (int threads : {1, all}) {
    if (!torch_peer::set_blas_threads(threads)) return 0;
    peer->step();
    const double mean = time_peer(peer, 2, 0.3);
    if (best_threads == 0 || mean < best) best = mean, best_threads = threads;
  }
  torch_peer::set_blas_threads(best_threads);
  return best_threads;
#else
  (void)peer;
  return 0;
#endif
}

// kiln's step is the benchmark's timed iteration. The peer (when built; PeerPtr is a
// pointer to anything with `double step()`, null for none) is timed in two blocks, just
// before and just after kiln's loop, and their mean is reported beside kiln's:
// alternating step by step would make each side start with the other's data in the
// caches and its threads still spinning (OpenBLAS's pool spins after a call, so a pause
// follows the first block). Counters: kiln_ms, threads, and with a peer libtorch_ms,
// ratio = kiln / libtorch and peer_blas_threads (Note [Peer BLAS threads]).
template <typename PeerPtr>
void run_paired(benchmark::State& state, const std::function<double()>& kiln_step, const PeerPtr& peer) {
  kiln_step();  // warm-up: first-touch allocations, lazily built state
  double peer_mean = 0;
  if (peer) {
    state.counters["peer_blas_threads"] = choose_peer_blas_threads(peer);
    peer_mean = time_peer(peer, 2, 0.5);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  double kiln_total = 0;
  for (auto _ : state) {
    double k = seconds_of([&] { benchmark::DoNotOptimize(kiln_step()); });
    state.SetIterationTime(k);
    kiln_total += k;
  }
  const double kiln_mean = kiln_total / double(state.iterations());
  state.counters["kiln_ms"] = 1e3 * kiln_mean;
  state.counters["threads"] = cpu::num_threads();
  if (peer) {
    peer_mean = (peer_mean + time_peer(peer, 2, 0.5)) / 2;
    state.counters["libtorch_ms"] = 1e3 * peer_mean;
    state.counters["ratio"] = kiln_mean / peer_mean;
  }
}

// The peer's side of a benchmark. With libtorch, make_peer builds the peer with its
// intra-op threads set to kiln's; without it (KILN_BENCH_TORCH off or libtorch not
// found) a benchmark holds an empty unique_ptr<NoPeer> and run_paired times kiln alone.
#ifdef KILN_BENCH_HAVE_TORCH
template <typename Make>
auto make_peer(const Make& make) {
  torch_peer::set_num_threads(cpu::num_threads());
  return make();
}
#else
struct NoPeer {
  double step() { return 0; }
};
#endif

}  // namespace kiln::bench
