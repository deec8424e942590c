#pragma once
// Runs the real `lerarenkaart serve` on 127.0.0.1:0 and talks to it with libcurl.
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace lk::api::testing {

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; last value wins
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// One request; `headers` as "Name: value". Redirects are not followed. Throws on transport errors.
HttpResponse Http(const std::string& method, const std::string& url, const std::string& body = "",
                  const std::vector<std::string>& headers = {});

// `lerarenkaart --data-dir DIR [--config FILE] serve --listen 127.0.0.1:0 --port-file ...`;
// stderr (the access log) goes to <dir>/serve-N.log.
class ServerProcess {
 public:
  ServerProcess(const std::filesystem::path& data_dir, const std::filesystem::path& config,
                const std::vector<std::string>& extra_args = {}, const std::vector<std::string>& env = {});
  ~ServerProcess();
  int port() const { return port_; }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  pid_t pid() const { return pid_; }
  // Sends SIGTERM and waits; returns the exit status (or -1 on a signal death).
  int Terminate();
  std::string Log() const;
  std::string Stdout() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::filesystem::path log_, out_;
};

}  // namespace lk::api::testing
