// The journals of a claim mail run: in memory (tests) and an append-only file.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "mail/claim_mail.h"
#include "mail/internal/mime.h"

namespace lk::mail {
namespace {

Result<> CheckStaffId(const std::string& id) {
  if (id.empty()) return Fail(Code::kInvalidArgument, "journal: empty staff id");
  for (char c : id)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return Fail(Code::kInvalidArgument,
                  "journal: staff id \"" + internal::Printable(id) + "\" contains a control character");
  return {};
}

class MemoryJournal final : public Journal {
 public:
  Result<MailState> StateOf(const std::string& id) override {
    auto it = states_.find(id);
    return it == states_.end() ? MailState::kNone : it->second;
  }
  Result<> MarkSending(std::span<const std::string> ids) override {
    for (const auto& id : ids)
      if (auto r = CheckStaffId(id); !r) return r;
    for (const auto& id : ids) states_[id] = MailState::kSending;
    return {};
  }
  Result<> MarkSent(const std::string& id) override { return Set(id, MailState::kSent); }
  Result<> MarkFailed(const std::string& id, const std::string&) override {
    return Set(id, MailState::kFailed);
  }

 private:
  Result<> Set(const std::string& id, MailState s) {
    if (auto r = CheckStaffId(id); !r) return r;
    states_[id] = s;
    return {};
  }
  std::unordered_map<std::string, MailState> states_;
};

class FileJournal final : public Journal {
 public:
  FileJournal(std::filesystem::path path, int fd, std::unordered_map<std::string, MailState> states)
      : path_(std::move(path)), fd_(fd), states_(std::move(states)) {}
  ~FileJournal() override {
    ::fsync(fd_);
    ::close(fd_);
  }
  FileJournal(const FileJournal&) = delete;
  FileJournal& operator=(const FileJournal&) = delete;

  Result<MailState> StateOf(const std::string& id) override {
    auto it = states_.find(id);
    return it == states_.end() ? MailState::kNone : it->second;
  }
  // One write and one fsync for the whole batch.
  Result<> MarkSending(std::span<const std::string> ids) override {
    std::string lines;
    for (const auto& id : ids) {
      if (auto r = CheckStaffId(id); !r) return r;
      lines += "sending\t" + id + "\n";
    }
    if (auto r = Write(lines, true); !r) return r;
    for (const auto& id : ids) states_[id] = MailState::kSending;
    return {};
  }
  Result<> MarkSent(const std::string& id) override {
    if (auto r = CheckStaffId(id); !r) return r;
    if (auto r = Write("sent\t" + id + "\n", false); !r) return r;
    states_[id] = MailState::kSent;
    return {};
  }
  Result<> MarkFailed(const std::string& id, const std::string& reason) override {
    if (auto r = CheckStaffId(id); !r) return r;
    std::string line = "failed\t" + id + "\t";
    for (char c : reason) line += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    if (auto r = Write(line + "\n", false); !r) return r;
    states_[id] = MailState::kFailed;
    return {};
  }

 private:
  Result<> Write(const std::string& line, bool sync) {
    for (size_t done = 0; done < line.size();) {
      ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Fail(Code::kUnavailable, path_.string() + ": cannot write: " + std::strerror(errno));
      done += static_cast<size_t>(n);
    }
    // "sending" must be on disk before the send; the others ride along with the next fsync.
    if (sync && ::fdatasync(fd_) != 0)
      return Fail(Code::kUnavailable, path_.string() + ": cannot sync: " + std::strerror(errno));
    return {};
  }

  std::filesystem::path path_;
  int fd_;
  std::unordered_map<std::string, MailState> states_;
};

}  // namespace

std::unique_ptr<Journal> NewMemoryJournal() { return std::make_unique<MemoryJournal>(); }

Result<std::unique_ptr<Journal>> OpenFileJournal(const std::filesystem::path& path) {
  std::error_code ec;
  bool existed = std::filesystem::exists(path, ec);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(Code::kUnavailable, path.string() + ": cannot open: " + std::strerror(errno));
  if (!existed) {  // the new file's directory entry must survive a power cut too
    auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  auto fail = [&](Code code, std::string why) {
    ::close(fd);
    return Fail(code, path.string() + ": " + why);
  };
  auto content = ReadFile(path);
  if (!content) return fail(Code::kUnavailable, "cannot read: " + content.error().message);
  std::string_view text = *content;
  // A crash can leave a torn last line: drop it, so the next record starts on a line of its own.
  size_t complete = text.rfind('\n') == std::string_view::npos ? 0 : text.rfind('\n') + 1;
  if (complete < text.size()) {
    if (::ftruncate(fd, static_cast<off_t>(complete)) != 0)
      return fail(Code::kUnavailable, std::string("cannot drop a torn last line: ") + std::strerror(errno));
    text = text.substr(0, complete);
  }
  std::unordered_map<std::string, MailState> states;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    text.remove_prefix(end + 1);
    auto tab = line.find('\t');
    auto word = line.substr(0, tab);
    auto rest = tab == std::string_view::npos ? std::string_view() : line.substr(tab + 1);
    auto id = rest.substr(0, rest.find('\t'));
    MailState s;
    if (word == "sending")
      s = MailState::kSending;
    else if (word == "sent")
      s = MailState::kSent;
    else if (word == "failed")
      s = MailState::kFailed;
    else
      return fail(Code::kDataLoss, "line " + std::to_string(line_no) + ": not a journal record");
    if (id.empty()) return fail(Code::kDataLoss, "line " + std::to_string(line_no) + ": no staff id");
    states[std::string(id)] = s;
  }
  if (::fsync(fd) != 0) return fail(Code::kUnavailable, std::string("cannot sync: ") + std::strerror(errno));
  return std::make_unique<FileJournal>(path, fd, std::move(states));
}

}  // namespace lk::mail
