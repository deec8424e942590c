#include "tests/testing/scratch_disk.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tests/testing/testing.h"

namespace lk::testing {

ScratchDisk::ScratchDisk(const std::filesystem::path& dir, const std::string& size, Kind kind)
    : dir_(dir), image_(dir.string() + ".img"), kind_(kind) {
  std::filesystem::create_directories(dir_);
  if (kind_ == Kind::kTmpfs) {
    auto r =
        RunProgram({"mount", "-t", "tmpfs", "-o", "size=" + size + ",mode=0700", "tmpfs", dir_.string()});
    mounted_ = r.exit_code == 0;
    if (!mounted_) error_ = "cannot mount a tmpfs on " + dir_.string() + " (needs root): " + r.err;
    return;
  }
  auto made = RunProgram({"truncate", "-s", size, image_.string()});
  if (made.exit_code == 0) made = RunProgram({"mkfs.ext4", "-q", "-F", image_.string()});
  if (made.exit_code != 0) {
    error_ = "cannot make an ext4 image: " + made.err;
    return;
  }
  error_ = Mount();
  mounted_ = error_.empty();
}

std::string ScratchDisk::Mount() {
  auto r = RunProgram({"mount", "-o", "loop,errors=remount-ro", image_.string(), dir_.string()});
  return r.exit_code == 0
             ? ""
             : "cannot mount an ext4 image on a loop device (needs root and /dev/loop*): " + r.err;
}

std::string ScratchDisk::FailReadOnly() {
  auto source = RunProgram({"findmnt", "-n", "-o", "SOURCE", dir_.string()});
  std::string device = std::filesystem::path(source.out.substr(0, source.out.find('\n'))).filename();
  std::filesystem::path trigger = "/sys/fs/ext4/" + device + "/trigger_fs_error";
  if (kind_ != Kind::kExt4 || device.empty() || !std::filesystem::exists(trigger))
    return "this kernel cannot be made to fail ext4 (" + trigger.string() + ")";
  WriteText(trigger, "lerarenkaart fault test");
  return "";
}

std::string ScratchDisk::Repair() {
  auto r = RunProgram({"umount", dir_.string()});
  if (r.exit_code != 0) return "umount: " + r.err;
  mounted_ = false;
  r = RunProgram({"e2fsck", "-f", "-y", image_.string()});
  if (r.exit_code > 1)
    return "e2fsck exit " + std::to_string(r.exit_code) + ": " + r.out + r.err;  // 1: errors fixed
  std::string mounted = Mount();
  mounted_ = mounted.empty();
  return mounted;
}

ScratchDisk::~ScratchDisk() {
  if (mounted_)
    RunProgram({"umount", "-l", dir_.string()});  // a loop device mount also lets go of its device
  std::error_code ec;
  std::filesystem::remove(image_, ec);
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
