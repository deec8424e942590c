#pragma once
// A small tmpfs of a test's own, for the ledger's disk faults: filled up (ENOSPC), freed,
// remounted read-only and back. Mounting needs root (CAP_SYS_ADMIN); without it mounted() is
// false and error() says why, and the test skips. Not thread-safe.
#include <filesystem>
#include <string>

namespace lk::testing {

class ScratchDisk {
 public:
  // Mounts a tmpfs of `size` (mount's syntax: "16m") on `dir`, created if needed.
  ScratchDisk(const std::filesystem::path& dir, const std::string& size);
  ~ScratchDisk();  // unmounts (lazily, should a file still be open)
  ScratchDisk(const ScratchDisk&) = delete;
  ScratchDisk& operator=(const ScratchDisk&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  const std::filesystem::path& path() const { return dir_; }

  // Grows a filler file until the file system refuses (ENOSPC); "" or what went wrong.
  std::string Fill();
  // Deletes the filler file.
  void Free();
  // mount -o remount,ro (or rw); "" or mount's complaint. A file open for writing on the disk
  // makes ro fail ("mount point is busy").
  std::string Remount(bool read_only);

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
  std::string error_;
};

}  // namespace lk::testing
