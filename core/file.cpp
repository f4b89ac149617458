// ByteSource over files and memory, and the atomic write (see core/file.h).
#include "core/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace kiln {

namespace {

bool write_fully(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t put = ::write(fd, p, n);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) return false;
    p += put, n -= size_t(put);
  }
  return true;
}

// Makes the rename itself durable; a failure here loses nothing already written.
void sync_parent_directory(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void MemorySource::read(uint64_t offset, size_t n, void* dst) const {
  if (n > 0) std::memcpy(dst, bytes_.data() + offset, n);
}

FileSource::FileSource(const std::string& path, const char* op) : path_(path), op_(op) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  KILN_CHECK(fd_ >= 0, op, ": cannot open ", path, ": ", std::strerror(errno));
  struct stat st {};
  bool stat_ok = ::fstat(fd_, &st) == 0;
  int err = errno;
  if (!stat_ok || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    KILN_FAIL(op, ": cannot read ", path, ": ", stat_ok ? "not a regular file" : std::strerror(err));
  }
  size_ = uint64_t(st.st_size);
}

FileSource::~FileSource() { ::close(fd_); }

void FileSource::read(uint64_t offset, size_t n, void* dst) const {
  char* out = static_cast<char*>(dst);
  while (n > 0) {
    ssize_t got = ::pread(fd_, out, n, off_t(offset));
    if (got < 0 && errno == EINTR) continue;
    KILN_CHECK(got >= 0, op_, ": cannot read ", path_, ": ", std::strerror(errno));
    KILN_CHECK(got > 0, op_, ": ", path_, ": the file shrank while it was read");
    out += got, offset += uint64_t(got), n -= size_t(got);
  }
}

void write_file_atomically(const std::string& path, const std::function<bool(const ByteSink&)>& produce,
                           const char* op) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  auto fail = [&](const char* step, int fd) {
    int err = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    KILN_FAIL(op, ": cannot write ", path, ": ", step, " ", tmp, " failed: ", std::strerror(err));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("creating", -1);
  bool written = false;
  try {
    written = produce([&](const void* data, size_t n) { return write_fully(fd, data, n); });
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (!written) fail("writing", fd);
  if (::fsync(fd) != 0) fail("syncing", fd);
  if (::close(fd) != 0) fail("closing", -1);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("renaming", -1);
  sync_parent_directory(path);
}

}  // namespace kiln
