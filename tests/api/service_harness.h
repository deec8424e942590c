#pragma once
// Runs the real `lerarenkaart serve` on 127.0.0.1:0 and talks to it with libcurl.
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
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
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
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

// A response as sent on the wire: status line, headers (lower-case names, in order), body.
struct WireResponse {
  std::string status_line;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int status() const;                                 // from the status line; 0 if unparsable
  std::string header(const std::string& name) const;  // first value of a lower-case name, or ""
};

// A plain TCP connection to the service, for what libcurl will not do (idle keep-alive
// connections by the hundred, requests sent a byte at a time, malformed or hostile bytes). Every
// receive waits at most `timeout_ms`: a guard against hanging, not a measurement.
class RawConnection {
 public:
  explicit RawConnection(int port, int timeout_ms = 3000);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  bool Send(const std::string& bytes);
  // Reads one response (Content-Length or no body; a HEAD answer has none whatever its
  // Content-Length says); status_line "" on timeout or close before a whole response.
  WireResponse Read(bool head = false);
  // One response's raw bytes ("" on timeout or close), for tests that look at the exact wire form.
  std::string ReadResponse();
  // Reads (and drops) until the service closes the connection: true on end of stream or reset,
  // false when nothing came within the receive timeout.
  bool WaitClosed();
  // Whether the service has closed the connection (end of stream or reset), without waiting.
  bool ClosedByPeer();
  // Bytes received but not yet returned by Read.
  const std::string& pending() const { return buffer_; }

 private:
  int fd_;
  bool connected_ = false;
  std::string buffer_;
};

// Sends `request` on a fresh connection and reads up to `count` responses (fewer if the
// service closes the connection first).
std::vector<WireResponse> Exchange(int port, const std::string& request, size_t count, bool head = false);

std::string ReadAll(const std::filesystem::path& p);

}  // namespace lk::api::testing
