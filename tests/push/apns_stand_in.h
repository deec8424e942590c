#pragma once
// The stand-in APNs of tests/push/apns_stand_in.py as a child process: made certificates, a port on
// 127.0.0.1, and what it recorded. Shared by the push tests and the push load benchmark.
#include <sys/types.h>

#include <filesystem>
#include <string>

namespace lk::testing {

class ApnsStandIn {
 public:
  // Makes the certificates under `dir` (tests/push/make_certs.sh) once per directory.
  static void MakeCertificates(const std::filesystem::path& source_dir, const std::filesystem::path& dir);
  // Starts the server with certificates from `cert_dir`, its files under `work_dir`; `log`: record
  // every request (else count only); client certificates must chain to `client_ca` (default: the
  // test CA). Throws std::runtime_error if it does not come up in 20 s.
  ApnsStandIn(const std::filesystem::path& source_dir, const std::filesystem::path& cert_dir,
              const std::filesystem::path& work_dir, bool log, const std::filesystem::path& client_ca = {});
  ~ApnsStandIn();  // stops it (SIGTERM) if still running
  ApnsStandIn(const ApnsStandIn&) = delete;
  ApnsStandIn& operator=(const ApnsStandIn&) = delete;
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  std::filesystem::path log_path() const { return work_dir_ / "requests.jsonl"; }
  // Stops the server and returns its stats JSON ({"connections","requests","statuses"}).
  std::string Stop();

 private:
  std::filesystem::path work_dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace lk::testing
