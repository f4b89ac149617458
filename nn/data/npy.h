// NumPy's .npy and .npz files (np.save, np.savez, np.savez_compressed): read them into
// tensors and write tensors so that np.load reads them. The format notes and the
// checks made on untrusted files are in nn/data/npy.cpp (Note [npy format], Note [npz format]).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace kiln::nn::data {

// Reads a .npy file (format versions 1.0, 2.0 and 3.0) onto the CPU as a C-contiguous
// tensor of the stored shape (0-d and empty arrays included). dtypes:
//   '|b1' -> bool, '|u1' -> uint8, '<f4' -> float32, '<f8' -> float64, '<i8' -> int64,
//   '|i1', '<i2', '<i4', '<u2', '<u4' -> int64 (widened exactly; kiln has no such dtype).
// Byte order may be '<', '>' (byte-swapped on read) or '=' (native, little-endian here);
// fortran_order True arrays are returned C-contiguous with the same values. Any other
// dtype (float16, uint64, complex, strings, objects, structured) is a kiln::Error naming
// the file and the descr. The file is untrusted: a bad magic, a malformed header dict,
// a shape whose bytes do not equal the bytes that follow the header, or bool bytes other
// than 0 and 1 are errors naming the file and what is wrong.
Tensor read_npy(const std::string& path);
// The same from the bytes of a .npy file; errors say "<memory>" instead of a path.
Tensor read_npy_from_memory(const std::string& bytes);

// Writes `t` (moved to the CPU, any strides, written row-major) as np.save does: the
// version 1.0 header exactly as NumPy 1.24 formats it, padded with spaces and '\n' so
// that the data starts at a multiple of 64 bytes (version 2.0 only when the header does
// not fit in 65535 bytes). Descrs: '|b1', '|u1', '<i8', '<f4', '<f8'. Atomic: the bytes
// go to "<path>.tmp.<pid>", which is fsync'ed and renamed over `path`; on failure `path`
// is left as it was and a kiln::Error names it and the OS error.
void write_npy(const std::string& path, const Tensor& t);
// The bytes write_npy would write.
std::string write_npy_to_memory(const Tensor& t);

// Reads every array of a .npz archive (np.savez or np.savez_compressed), in archive
// order, named without the ".npy" suffix (positional arrays are "arr_0", "arr_1", ...).
// Entries may be stored or deflated, with or without ZIP64 fields; each entry's CRC-32
// is verified. Encrypted entries, other compression methods, multi-disk archives,
// sizes or offsets outside the file, duplicate names and names not ending in ".npy" are
// errors naming the archive (and the entry).
std::vector<std::pair<std::string, Tensor>> read_npz(const std::string& path);
std::vector<std::pair<std::string, Tensor>> read_npz_from_memory(const std::string& bytes);

// Writes an archive as np.savez (compressed = false: stored entries) or
// np.savez_compressed (deflate) does, one "<name>.npy" entry per array in the given
// order, written as write_npy would. Names must be non-empty and unique. Stored
// archives are byte-identical to NumPy 1.24's (ZIP64 sizes in each local header, DOS
// date 1980-01-01, mode 0600). Atomic like write_npy.
void write_npz(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& arrays,
               bool compressed = false);
std::string write_npz_to_memory(const std::vector<std::pair<std::string, Tensor>>& arrays, bool compressed = false);

}  // namespace kiln::nn::data
