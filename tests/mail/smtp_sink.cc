#include "tests/mail/smtp_sink.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include "base/base.h"
#include "tests/testing/testing.h"

namespace lk::mail::testing {
namespace fs = std::filesystem;

ClaimMailOptions TestMailOptions() {
  ClaimMailOptions o;
  o.public_url = "https://lerarenkaart.example.be";
  o.from = {"kaart@lerarenkaart.example.be", "Lerarenkaart"};
  o.year = 2026;
  return o;
}

fs::path ScriptDir() { return lk::testing::SourceDir() / "tests" / "mail"; }

SmtpSink::SmtpSink(const fs::path& dir, const std::vector<std::string>& options) : dir_(dir) {
  std::vector<std::string> argv = {"/usr/bin/python3", (ScriptDir() / "smtp_sink.py").string()};
  if (std::find(options.begin(), options.end(), "--discard") == options.end()) {
    fs::create_directories(dir);
    argv.insert(argv.end(), {"--dir", dir.string()});
  }
  argv.insert(argv.end(), options.begin(), options.end());
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) throw std::runtime_error("pipe");
  pid_ = fork();
  if (pid_ == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  stdin_ = in[1];
  std::string line;
  char c;
  while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
  close(out[0]);
  if (!line.starts_with("PORT ")) {
    Stop();
    throw std::runtime_error("smtp_sink.py did not start (is python3-aiosmtpd installed?): " + line);
  }
  port_ = std::stoi(line.substr(5));
}

SmtpSink::~SmtpSink() { Stop(); }

void SmtpSink::Stop() {
  if (stdin_ >= 0) close(stdin_);  // the sink exits when its stdin closes
  stdin_ = -1;
  if (pid_ > 0) {
    int status = 0;
    for (int i = 0; i < 200; ++i) {  // up to 2 s, then kill
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      usleep(10'000);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
}

std::vector<fs::path> SmtpSink::Messages() const {
  std::vector<fs::path> out;
  for (auto& e : fs::directory_iterator(dir_))
    if (e.path().extension() == ".eml") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json SmtpSink::Envelope(const fs::path& eml) const {
  auto text = ReadFile(fs::path(eml).replace_extension(".json"));
  return nlohmann::json::parse(text.value_or("{}"));
}

nlohmann::json ReadMail(const fs::path& eml) {
  auto r =
      lk::testing::RunProgram({"/usr/bin/python3", (ScriptDir() / "read_mail.py").string(), eml.string()});
  if (r.exit_code != 0) throw std::runtime_error("read_mail.py: " + r.err);
  return nlohmann::json::parse(r.out);
}

std::string DecodeQr(const fs::path& image) {
  auto r = lk::testing::RunProgram({"zbarimg", "-q", "--raw", image.string()});  // stderr: D-Bus noise
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace lk::mail::testing
