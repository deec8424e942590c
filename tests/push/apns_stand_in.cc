#include "tests/push/apns_stand_in.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

namespace lk::testing {
namespace fs = std::filesystem;

namespace {
std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
pid_t Spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0)
    throw std::runtime_error("cannot start " + argv[0]);
  return pid;
}
}  // namespace

void ApnsStandIn::MakeCertificates(const fs::path& source_dir, const fs::path& dir) {
  if (fs::exists(dir / "client-key.pem")) return;
  pid_t pid = Spawn({"/bin/bash", (source_dir / "tests/push/make_certs.sh").string(), dir.string()});
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("make_certs.sh failed");
}

ApnsStandIn::ApnsStandIn(const fs::path& source_dir, const fs::path& cert_dir, const fs::path& work_dir,
                         bool log, const fs::path& client_ca)
    : work_dir_(work_dir) {
  fs::create_directories(work_dir_);
  fs::remove(work_dir_ / "port");
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   (source_dir / "tests/push/apns_stand_in.py").string(),
                                   "--cert",
                                   (cert_dir / "server.pem").string(),
                                   "--key",
                                   (cert_dir / "server-key.pem").string(),
                                   "--client-ca",
                                   (client_ca.empty() ? cert_dir / "ca.pem" : client_ca).string(),
                                   "--port-file",
                                   (work_dir_ / "port").string(),
                                   "--stats",
                                   (work_dir_ / "stats.json").string()};
  if (log) argv.insert(argv.end(), {"--log", log_path().string()});
  pid_ = Spawn(argv);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!fs::exists(work_dir_ / "port")) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("the stand-in APNs exited at start");
    }
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("the stand-in APNs did not start");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  port_ = std::stoi(Slurp(work_dir_ / "port"));
}

std::string ApnsStandIn::Stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  return Slurp(work_dir_ / "stats.json");
}

ApnsStandIn::~ApnsStandIn() {
  if (pid_ > 0) Stop();
}

}  // namespace lk::testing
