// Checkpoints as safetensors files (https://github.com/huggingface/safetensors), the
// format PyTorch users share weights in: save/load named tensors, and save/load a
// Module's state_dict. See Note [safetensors format] in nn/serialize.cpp.
#pragma once

#include <map>
#include <string>

#include "nn/module.h"

namespace kiln::nn {

// Writes `tensors` (each moved to the CPU and made contiguous) in the given order, with
// an optional "__metadata__" map of strings. Atomic: the bytes go to "<path>.tmp.<pid>"
// in the same directory, which is flushed, fsync'ed and renamed over `path`; on failure
// the temporary file is removed, `path` is left as it was, and a kiln::Error names the
// path and the OS error. dtypes map as float32 -> F32, float64 -> F64, int64 -> I64,
// uint8 -> U8, bool -> BOOL, float16 -> F16, bfloat16 -> BF16.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});
// The bytes save_safetensors would write.
std::string save_safetensors_to_memory(const NamedTensors& tensors,
                                       const std::map<std::string, std::string>& metadata = {});

// Reads every tensor of a safetensors file onto the CPU, in file order (by data offset,
// which is the order they were saved in, whatever the order of the JSON header), and
// the "__metadata__" map into *metadata when given. The file is untrusted: anything
// malformed is a kiln::Error naming the file and what is wrong. The dtypes kiln has no
// counterpart for (I8, I16, I32, U16, U32, U64, the 8-bit and smaller floats, complex)
// are rejected as "unsupported dtype".
NamedTensors load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);
NamedTensors load_safetensors_from_memory(const std::string& bytes,
                                          std::map<std::string, std::string>* metadata = nullptr);

// A module's state_dict to and from a safetensors file (metadata {"format": "pt"}, as
// safetensors.torch writes). load copies into the module's existing tensors, converting
// dtype and device; strict as in Module::load_state_dict.
void save(const Module& m, const std::string& path);
void load(Module& m, const std::string& path, bool strict = true);

}  // namespace kiln::nn
