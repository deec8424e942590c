#include "tests/testing/scratch_disk.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tests/testing/testing.h"

namespace lk::testing {

ScratchDisk::ScratchDisk(const std::filesystem::path& dir, const std::string& size) : dir_(dir) {
  std::filesystem::create_directories(dir_);
  auto r = RunProgram({"mount", "-t", "tmpfs", "-o", "size=" + size + ",mode=0700", "tmpfs", dir_.string()});
  mounted_ = r.exit_code == 0;
  if (!mounted_) error_ = "cannot mount a tmpfs on " + dir_.string() + " (needs root): " + r.err;
}

ScratchDisk::~ScratchDisk() {
  if (mounted_) RunProgram({"umount", "-l", dir_.string()});
}

std::string ScratchDisk::Fill() {
  int fd = ::open((dir_ / "filler").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return std::string("cannot create the filler file: ") + std::strerror(errno);
  std::string chunk(1 << 16, 'x');
  for (size_t size : {chunk.size(), size_t{4096}, size_t{1}})
    while (::write(fd, chunk.data(), size) > 0) {
    }
  int error = errno;
  ::close(fd);
  return error == ENOSPC ? "" : std::string("filling the disk stopped with ") + std::strerror(error);
}

void ScratchDisk::Free() {
  std::error_code ec;
  std::filesystem::remove(dir_ / "filler", ec);
}

std::string ScratchDisk::Remount(bool read_only) {
  auto r = RunProgram({"mount", "-o", read_only ? "remount,ro" : "remount,rw", dir_.string()});
  return r.exit_code == 0 ? "" : r.err;
}

}  // namespace lk::testing
