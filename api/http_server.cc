#include "api/internal/http_server.h"

#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace lk::api::internal {
namespace {

constexpr size_t kReadBuffer = 16 * 1024;
constexpr size_t kFlushAt = 256 * 1024;     // larger responses go out in pieces of about this size
constexpr size_t kKeepCapacity = 64 * 1024;  // a connection keeps at most this much write buffer

int TimeoutMs(time_t sec, time_t usec) { return static_cast<int>(sec * 1000 + usec / 1000); }

void Address(const sockaddr_storage& addr, socklen_t len, std::string& ip, int& port) {
  char host[NI_MAXHOST] = "";
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host, sizeof host, nullptr, 0, NI_NUMERICHOST) == 0)
    ip = host;
  if (addr.ss_family == AF_INET) port = ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  else if (addr.ss_family == AF_INET6) port = ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
}

// One accepted connection: buffered reads, writes gathered until Flush.
class Connection final : public httplib::Stream {
 public:
  Connection(int sock, int read_timeout_ms, int write_timeout_ms)
      : sock_(sock), read_timeout_ms_(read_timeout_ms), write_timeout_ms_(write_timeout_ms), in_(kReadBuffer, '\0') {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (getpeername(sock, reinterpret_cast<sockaddr*>(&addr), &len) == 0) Address(addr, len, remote_ip_, remote_port_);
    len = sizeof addr;
    if (getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len) == 0) Address(addr, len, local_ip_, local_port_);
  }

  // Waits up to `timeout_ms` for the next request. False on timeout, on a stop signal (wake_fd)
  // or an error; true when bytes (or the peer's close, which the parser then sees) are there.
  bool WaitForRequest(int timeout_ms, int wake_fd) {
    if (in_pos_ < in_len_) return true;  // a pipelined request is already buffered
    pollfd fds[2] = {{sock_, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    for (;;) {
      int n = ::poll(fds, wake_fd >= 0 ? 2 : 1, timeout_ms);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      if (fds[1].revents) return false;
      return fds[0].revents != 0;
    }
  }

  // Sends everything written so far. False when the peer is gone or the write timeout passed.
  bool Flush() {
    size_t done = 0;
    while (done < out_.size()) {
      ssize_t n = ::send(sock_, out_.data() + done, out_.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && Wait(POLLOUT, write_timeout_ms_)) continue;
      out_.clear();
      return false;
    }
    out_.clear();
    if (out_.capacity() > kKeepCapacity) out_.shrink_to_fit();
    return true;
  }

  bool is_readable() const override { return in_pos_ < in_len_ || Wait(POLLIN, read_timeout_ms_); }
  bool is_writable() const override { return Wait(POLLOUT, write_timeout_ms_); }

  ssize_t read(char* ptr, size_t size) override {
    if (!out_.empty() && !Flush()) return -1;  // e.g. "100 Continue" must reach the client first
    if (in_pos_ < in_len_) {
      size_t n = std::min(size, in_len_ - in_pos_);
      std::memcpy(ptr, in_.data() + in_pos_, n);
      in_pos_ += n;
      return static_cast<ssize_t>(n);
    }
    bool direct = size >= in_.size();  // large body reads skip the buffer
    for (;;) {
      ssize_t n = ::recv(sock_, direct ? ptr : in_.data(), direct ? size : in_.size(), MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!Wait(POLLIN, read_timeout_ms_)) return -1;
        continue;
      }
      if (n <= 0 || direct) return n;
      in_pos_ = 0;
      in_len_ = static_cast<size_t>(n);
      return read(ptr, size);
    }
  }

  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    if (out_.size() >= kFlushAt && !Flush()) return -1;
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = local_ip_;
    port = local_port_;
  }
  socket_t socket() const override { return sock_; }

 private:
  bool Wait(short events, int timeout_ms) const {
    pollfd fd{sock_, events, 0};
    for (;;) {
      int n = ::poll(&fd, 1, timeout_ms);
      if (n < 0 && errno == EINTR) continue;
      return n > 0 && (fd.revents & (events | POLLHUP | POLLERR));
    }
  }

  int sock_;
  int read_timeout_ms_, write_timeout_ms_;
  std::string in_;
  size_t in_pos_ = 0, in_len_ = 0;
  std::string out_;
  std::string remote_ip_, local_ip_;
  int remote_port_ = 0, local_port_ = 0;
};

}  // namespace

HttpServer::HttpServer() : wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

HttpServer::~HttpServer() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void HttpServer::WakeIdleConnections() {
  if (wake_fd_ < 0) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);  // stays readable: never read
}

bool HttpServer::process_and_close_socket(socket_t sock) {
  Connection conn(sock, TimeoutMs(read_timeout_sec_, read_timeout_usec_),
                  TimeoutMs(write_timeout_sec_, write_timeout_usec_));
  int keep_alive_ms = static_cast<int>(keep_alive_timeout_sec_ * 1000);
  bool ret = false;
  for (size_t left = keep_alive_max_count_; left > 0 && svr_sock_ != INVALID_SOCKET; --left) {
    if (!conn.WaitForRequest(keep_alive_ms, wake_fd_)) break;
    bool connection_closed = false;
    ret = process_request(conn, /*close_connection=*/left == 1, connection_closed, nullptr);
    if (!conn.Flush()) ret = false;
    if (!ret || connection_closed) break;
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

}  // namespace lk::api::internal
