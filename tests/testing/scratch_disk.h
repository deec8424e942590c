#pragma once
// A small file system of a test's own, for the ledger's disk faults: a tmpfs filled up (ENOSPC),
// freed, remounted read-only and back; or ext4 on a loop device that the kernel turns read-only
// under its open files after an error, as after a disk fault. Mounting needs root
// (CAP_SYS_ADMIN); without it mounted() is false and error() says why, and the test skips.
// Not thread-safe.
#include <filesystem>
#include <string>

namespace lk::testing {

class ScratchDisk {
 public:
  enum class Kind {
    kTmpfs,
    kExt4,  // an image file beside `dir`, on a loop device, mounted errors=remount-ro
  };
  // Mounts a file system of `size` (mount's syntax: "16m") on `dir`, created if needed.
  ScratchDisk(const std::filesystem::path& dir, const std::string& size, Kind kind = Kind::kTmpfs);
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
  // kExt4: makes ext4 meet an error (its sysfs trigger_fs_error), after which the kernel turns
  // it read-only under its open files. "" or why not (then the test skips).
  std::string FailReadOnly();
  // kExt4: unmounts, repairs (e2fsck -fy) and mounts again, as an operator would after a
  // fault. REQUIRES: no file open on the disk. "" or what went wrong.
  std::string Repair();

 private:
  std::string Mount();

  std::filesystem::path dir_, image_;
  Kind kind_;
  bool mounted_ = false;
  std::string error_;
};

}  // namespace lk::testing
