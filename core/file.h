// Files as the readers and writers of kiln (checkpoints, NPY/NPZ, images, logs) use
// them: untrusted input read by byte range, and output written atomically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace kiln {

// Bytes read by range, from a file or from memory, so that one parser serves both.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t size() const = 0;
  // Copies bytes [offset, offset + n); the caller keeps the range within size().
  virtual void read(uint64_t offset, size_t n, void* dst) const = 0;
};

// A view of bytes held by the caller, who keeps them alive.
class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_.size(); }
  void read(uint64_t offset, size_t n, void* dst) const override;

 private:
  std::string_view bytes_;
};

// A regular file, read with pread. Errors ("<op>: cannot open <path>: ...", a path that
// is not a regular file, a file that shrinks while read) are kiln::Errors naming op.
class FileSource : public ByteSource {
 public:
  FileSource(const std::string& path, const char* op);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  uint64_t size() const override { return size_; }
  void read(uint64_t offset, size_t n, void* dst) const override;

 private:
  std::string path_;
  const char* op_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Appends n bytes to the output; false on a write error.
using ByteSink = std::function<bool(const void* data, size_t n)>;

// Writes `path` through "<path>.tmp.<pid>": produce(sink) emits the contents (returning
// false when the sink failed), then fsync, rename over `path` and fsync of the directory,
// so `path` is always either the old file or the complete new one. A failure removes the
// temporary file and throws "<op>: cannot write <path>: <step> <tmp> failed: <reason>".
void write_file_atomically(const std::string& path, const std::function<bool(const ByteSink&)>& produce,
                           const char* op);

}  // namespace kiln
