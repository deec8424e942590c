#include "api/internal/http_server.h"

#include <netdb.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

namespace lk::api::internal {
namespace {

using Steady = std::chrono::steady_clock;

constexpr size_t kReadChunk = 16 * 1024;              // a connection's read buffer to begin with
constexpr size_t kMaxHead = 64 * 1024;                // a request head longer than this: 431
constexpr size_t kMaxBufferedBody = 64 * 1024;        // bodies up to this are buffered before parsing
constexpr size_t kMaxBuffer = kMaxHead + kMaxBufferedBody;
constexpr size_t kFlushAt = 256 * 1024;     // larger responses go out in pieces of about this size
constexpr size_t kKeepCapacity = 64 * 1024;  // a connection keeps at most this much write buffer
constexpr auto kSweepInterval = std::chrono::milliseconds(200);  // how often deadlines are checked
// A body read by the worker must arrive at this average rate or better, after a grace of the read
// timeout: a client trickling a large body cannot hold a worker for long.
constexpr double kMinBodyBytesPerSecond = 16 * 1024;
constexpr std::string_view kHeadTooLarge =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

int TimeoutMs(time_t sec, time_t usec) { return static_cast<int>(sec * 1000 + usec / 1000); }

void Address(const sockaddr_storage& addr, socklen_t len, std::string& ip, int& port) {
  char host[NI_MAXHOST] = "";
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host, sizeof host, nullptr, 0, NI_NUMERICHOST) == 0)
    ip = host;
  if (addr.ss_family == AF_INET) port = ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  else if (addr.ss_family == AF_INET6) port = ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
}

// ASCII case folding (header names are ASCII); no locale lookup per character.
bool EqualsNoCase(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; };
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsTchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// httplib's reason phrases for the statuses the service answers with.
std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
  }
}

}  // namespace

// One accepted connection: buffered reads, writes gathered until Flush, and what the scheduler
// keeps about it. Touched by one thread at a time (the scheduler hands it over under its mutex).
class HttpServer::Connection final : public httplib::Stream {
 public:
  enum class Ready { kPartial, kComplete, kHeadTooLarge };
  enum class State { kParked, kQueued, kBusy };

  Connection(int sock, int read_timeout_ms, int write_timeout_ms)
      : sock_(sock), read_timeout_ms_(read_timeout_ms), write_timeout_ms_(write_timeout_ms), in_(kReadChunk, '\0') {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (getpeername(sock, reinterpret_cast<sockaddr*>(&addr), &len) == 0) Address(addr, len, remote_ip_, remote_port_);
    len = sizeof addr;
    if (getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len) == 0) Address(addr, len, local_ip_, local_port_);
  }
  ~Connection() override {
    ::shutdown(sock_, SHUT_RDWR);
    ::close(sock_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Reads what has arrived without waiting (up to kMaxBuffer buffered). False on a socket error;
  // the peer's close sets peer_closed().
  bool ReadAvailable() {
    if (in_pos_ > 0) {
      std::memmove(in_.data(), in_.data() + in_pos_, in_len_ - in_pos_);
      in_len_ -= in_pos_;
      in_pos_ = 0;
    }
    for (;;) {
      if (in_len_ == in_.size()) {
        if (in_.size() >= kMaxBuffer) return true;  // enough to tell whether a request is complete
        in_.resize(std::min(in_.size() * 2, kMaxBuffer));
      }
      size_t space = in_.size() - in_len_;
      ssize_t n = ::recv(sock_, in_.data() + in_len_, space, MSG_DONTWAIT);
      if (n > 0) {
        in_len_ += static_cast<size_t>(n);
        if (static_cast<size_t>(n) < space) return true;  // drained (more wakes the connection again)
        continue;
      }
      if (n == 0) {
        peer_closed_ = true;
        return true;
      }
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
  }

  // Whether the buffer holds a whole request: its head and a Content-Length body of up to
  // kMaxBufferedBody. Chunked, larger and "Expect" requests count as complete once the head is
  // there: httplib reads (or refuses) their bodies.
  Ready RequestReady() const {
    std::string_view v(in_.data() + in_pos_, in_len_ - in_pos_);
    if (v.empty()) return Ready::kPartial;
    size_t end = v.find("\r\n\r\n");
    if (end == std::string_view::npos || end + 4 > kMaxHead)
      return v.size() >= kMaxHead ? Ready::kHeadTooLarge : Ready::kPartial;
    std::string_view head = v.substr(0, end + 2);
    size_t body = 0;
    for (size_t pos = head.find("\r\n") + 2; pos < head.size();) {
      size_t eol = head.find("\r\n", pos);
      std::string_view line = head.substr(pos, eol - pos);
      pos = eol + 2;
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view name = line.substr(0, colon), value = TrimSpace(line.substr(colon + 1));
      if (EqualsNoCase(name, "transfer-encoding") || EqualsNoCase(name, "expect")) return Ready::kComplete;
      if (EqualsNoCase(name, "content-length")) {
        if (value.empty() || value.size() > 12 || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
          return Ready::kComplete;  // httplib answers it
        body = std::stoull(std::string(value));
      }
    }
    if (body > kMaxBufferedBody) return Ready::kComplete;
    return v.size() >= end + 4 + body ? Ready::kComplete : Ready::kPartial;
  }

  bool HasBuffered() const { return in_pos_ < in_len_; }
  // The buffered bytes not yet consumed, and consuming the first `n` of them.
  std::string_view Buffered() const { return {in_.data() + in_pos_, in_len_ - in_pos_}; }
  void Consume(size_t n) { in_pos_ += std::min(n, in_len_ - in_pos_); }
  const std::string& remote_ip() const { return remote_ip_; }
  int remote_port() const { return remote_port_; }
  // Appends to the response buffer (sent by Flush).
  std::string& out() { return out_; }
  bool peer_closed() const { return peer_closed_; }

  // An idle connection gives back a read buffer that grew for a large request.
  void TrimBuffer() {
    if (HasBuffered() || in_.size() <= kReadChunk) return;
    in_pos_ = in_len_ = 0;
    in_.resize(kReadChunk);
    in_.shrink_to_fit();
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

  bool is_readable() const override { return in_pos_ < in_len_ || Wait(POLLIN, ReadWaitMs()); }

  // Starts the clock of a request about to be parsed: its reads past the buffer must finish by
  // `started` + read timeout + (bytes received) / kMinBodyBytesPerSecond.
  void BeginRequest(Steady::time_point started) {
    request_started_ = started;
    request_bytes_ = in_len_ - in_pos_;
  }
  bool is_writable() const override { return Wait(POLLOUT, write_timeout_ms_); }

  // Buffered bytes first; past them (a large or chunked body) each read waits up to the read timeout.
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
        int wait_ms = ReadWaitMs();
        if (wait_ms <= 0 || !Wait(POLLIN, wait_ms)) return -1;
        continue;
      }
      if (n > 0) request_bytes_ += static_cast<size_t>(n);
      if (n == 0) peer_closed_ = true;
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

  // Scheduler bookkeeping (guarded by the scheduler's mutex while parked or queued).
  State state = State::kParked;
  Steady::time_point deadline{};       // parked: closed when this passes
  Steady::time_point partial_since{};  // when the first byte of a still incomplete request was seen
  size_t requests_left = 0;            // keep-alive max count

 private:
  bool Wait(short events, int timeout_ms) const {
    pollfd fd{sock_, events, 0};
    for (;;) {
      int n = ::poll(&fd, 1, timeout_ms);
      if (n < 0 && errno == EINTR) continue;
      return n > 0 && (fd.revents & (events | POLLHUP | POLLERR));
    }
  }

  // How long the next read may wait: the read timeout, cut to what the request's deadline leaves.
  int ReadWaitMs() const {
    auto until = request_started_ + std::chrono::milliseconds(read_timeout_ms_) +
                    std::chrono::milliseconds(static_cast<int64_t>(1000.0 * request_bytes_ / kMinBodyBytesPerSecond));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Steady::now()).count();
    return static_cast<int>(std::clamp<int64_t>(left, 0, read_timeout_ms_));
  }

  int sock_;
  int read_timeout_ms_, write_timeout_ms_;
  Steady::time_point request_started_ = Steady::now();
  size_t request_bytes_ = 0;  // received for the current request
  std::string in_;
  size_t in_pos_ = 0, in_len_ = 0;
  bool peer_closed_ = false;
  std::string out_;
  std::string remote_ip_, local_ip_;
  int remote_port_ = 0, local_port_ = 0;
};

// The epoll set of parked connections, the FIFO of readable ones and the worker pool. Workers
// take connections from the queue in arrival order; when the queue is empty one idle worker
// waits on epoll (leader/followers: no thread hand-off per request), queues what became
// readable, closes parked connections past their deadline and goes on serving. ONESHOT
// registration means a connection is in at most one of: parked (armed in epoll), queued, or
// with a worker.
class HttpServer::Scheduler {
 public:
  Scheduler(HttpServer& server, int workers)
      : server_(server),
        read_timeout_(TimeoutMs(server.read_timeout_sec_, server.read_timeout_usec_)),
        write_timeout_(TimeoutMs(server.write_timeout_sec_, server.write_timeout_usec_)),
        keep_alive_(std::chrono::seconds(server.keep_alive_timeout_sec_)),
        epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
        wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the wake-up eventfd
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { Work(); });
  }
  ~Scheduler() {
    Drain();
    ::close(epoll_fd_);
    ::close(wake_fd_);
  }
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Takes ownership of an accepted socket and parks it until its first request.
  void Adopt(int sock) {
    auto* conn = new Connection(sock, read_timeout_, write_timeout_);
    conn->requests_left = server_.keep_alive_max_count_;
    std::lock_guard lock(mu_);
    if (stopping_) {
      delete conn;
      return;
    }
    conns_.insert(conn);
    conn->deadline = Steady::now() + keep_alive_;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    ev.data.ptr = conn;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, sock, &ev) != 0) Close(conn);
  }

  // Graceful stop: idle connections close now, queued and running requests finish (answered
  // with "Connection: close"), partly received ones may complete until their read deadline.
  // Then the workers end. Idempotent.
  void Drain() {
    std::unique_lock lock(mu_);
    if (done_) return;
    stopping_ = true;
    Wake();
    drained_.wait(lock, [this] { return conns_.empty(); });
    done_ = true;
    lock.unlock();
    work_cv_.notify_all();
    Wake();
    for (auto& t : workers_) t.join();
  }

 private:
  void Wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }

  void Work() {
    std::vector<epoll_event> events(64);
    std::unique_lock lock(mu_);
    for (;;) {
      if (done_) return;
      if (!ready_.empty()) {
        Connection* conn = ready_.front();
        ready_.pop_front();
        conn->state = Connection::State::kBusy;
        bool stopping = stopping_;
        lock.unlock();
        bool keep = server_.Serve(*conn, stopping);
        lock.lock();
        if (keep && !(stopping_ && !conn->HasBuffered())) Park(conn);
        else Close(conn);
        continue;
      }
      if (polling_) {
        work_cv_.wait(lock, [this] { return !ready_.empty() || !polling_ || done_; });
        continue;
      }
      polling_ = true;
      lock.unlock();
      int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                           static_cast<int>(kSweepInterval.count()));
      lock.lock();
      polling_ = false;
      for (int i = 0; i < n; ++i) {
        if (events[i].data.ptr == nullptr) {
          uint64_t count;
          [[maybe_unused]] ssize_t r = ::read(wake_fd_, &count, sizeof count);
          continue;
        }
        auto* conn = static_cast<Connection*>(events[i].data.ptr);
        conn->state = Connection::State::kQueued;
        ready_.push_back(conn);
      }
      Steady::time_point now = Steady::now();
      if (stopping_ || now - last_sweep_ >= kSweepInterval) {
        Sweep(now);
        last_sweep_ = now;
      }
      // This worker takes the first connection; the others take the rest, and one of them
      // waits on epoll next.
      if (ready_.size() > 1) work_cv_.notify_all();
      else if (ready_.size() == 1) work_cv_.notify_one();
    }
  }

  // Closes parked connections past their deadline (and, when stopping, the idle ones).
  // REQUIRES: mu_ held.
  void Sweep(Steady::time_point now) {
    std::vector<Connection*> expired;
    for (Connection* c : conns_)
      if (c->state == Connection::State::kParked && (now >= c->deadline || (stopping_ && !c->HasBuffered())))
        expired.push_back(c);
    for (Connection* c : expired) Close(c);
  }

  // REQUIRES: mu_ held, the caller owns `conn` (busy).
  void Park(Connection* conn) {
    conn->state = Connection::State::kParked;
    conn->deadline = conn->HasBuffered() ? conn->partial_since + std::chrono::milliseconds(read_timeout_)
                                         : Steady::now() + keep_alive_;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    ev.data.ptr = conn;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, conn->socket(), &ev) != 0) Close(conn);
  }

  // REQUIRES: mu_ held, `conn` parked or owned by the caller.
  void Close(Connection* conn) {
    conns_.erase(conn);
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, conn->socket(), nullptr);
    delete conn;
    if (stopping_ && conns_.empty()) drained_.notify_all();
  }

  HttpServer& server_;
  const int read_timeout_, write_timeout_;
  const std::chrono::seconds keep_alive_;
  const int epoll_fd_, wake_fd_;
  std::mutex mu_;
  std::condition_variable work_cv_, drained_;
  std::deque<Connection*> ready_;           // readable connections, oldest first
  std::unordered_set<Connection*> conns_;   // every open connection (owned)
  bool polling_ = false;                    // a worker is waiting on epoll
  bool stopping_ = false, done_ = false;
  Steady::time_point last_sweep_ = Steady::now();
  std::vector<std::thread> workers_;
};

namespace {

// What httplib's accept loop sees as its task queue: it runs the "task" (our
// process_and_close_socket, which only parks the socket) on the accepting thread, and its
// shutdown (after the listening socket closed) drains the scheduler.
class AcceptQueue final : public httplib::TaskQueue {
 public:
  explicit AcceptQueue(std::function<void()> drain) : drain_(std::move(drain)) {}
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override { drain_(); }

 private:
  std::function<void()> drain_;
};

}  // namespace

int HttpServer::DefaultWorkerThreads() {
  return std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
}

HttpServer::HttpServer() {
  new_task_queue = [this]() -> httplib::TaskQueue* {
    scheduler_.reset();
    scheduler_ = std::make_unique<Scheduler>(*this, worker_threads_ > 0 ? worker_threads_ : DefaultWorkerThreads());
    return new AcceptQueue([this] { scheduler_->Drain(); });
  };
}

HttpServer::~HttpServer() = default;

bool HttpServer::process_and_close_socket(socket_t sock) {
  scheduler_->Adopt(sock);
  return true;
}

HttpServer::Fast HttpServer::TryFast(Connection& conn, bool close) {
  constexpr size_t kMaxTarget = 8000, kMaxLine = 8192, kMaxHeaders = 100;
  if (!fast_.wants) return Fast::kDeclined;
  std::string_view v = conn.Buffered();
  size_t end = v.find("\r\n\r\n");
  if (end == std::string_view::npos) return Fast::kDeclined;
  std::string_view head = v.substr(0, end + 2);
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos || line.substr(sp2 + 1) != "HTTP/1.1") return Fast::kDeclined;
  std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; }) || method == "HEAD")
    return Fast::kDeclined;
  if (target.empty() || target.front() != '/' || target.size() > kMaxTarget ||
      !std::all_of(target.begin(), target.end(), [](char c) { return c > ' ' && c < 0x7f && c != '%' && c != '#'; }))
    return Fast::kDeclined;
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (!fast_.wants(method, path)) return Fast::kDeclined;

  thread_local httplib::Request req;
  req.headers.clear();
  size_t body_len = 0, headers = 0;
  bool have_length = false, have_connection = false, close_asked = false;
  for (size_t pos = eol + 2; pos < head.size(); ++headers) {
    size_t next = head.find("\r\n", pos);
    line = head.substr(pos, next - pos);
    pos = next + 2;
    size_t colon = line.find(':');
    if (headers >= kMaxHeaders || line.size() > kMaxLine || colon == 0 || colon == std::string_view::npos)
      return Fast::kDeclined;
    std::string_view name = line.substr(0, colon), value = TrimSpace(line.substr(colon + 1));
    if (!std::all_of(name.begin(), name.end(), IsTchar) ||
        std::any_of(value.begin(), value.end(), [](char c) { return (c >= 0 && c < ' ' && c != '\t') || c == 0x7f; }))
      return Fast::kDeclined;
    if (EqualsNoCase(name, "transfer-encoding") || EqualsNoCase(name, "expect")) return Fast::kDeclined;
    if (EqualsNoCase(name, "content-length")) {
      if (have_length || value.empty() || value.size() > 12 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return Fast::kDeclined;
      have_length = true;
      body_len = std::stoull(std::string(value));
    }
    if (EqualsNoCase(name, "connection") && !have_connection) {
      have_connection = true;
      close_asked = value == "close";  // httplib's rule: exactly "close"
    }
    for (const std::string& kept : fast_.headers) {
      if (!EqualsNoCase(name, kept)) continue;
      // httplib drops empty values and percent-decodes the others: such values are left to it.
      std::string_view raw = line.substr(colon + 1);
      if (value.empty() || value.find('%') != std::string_view::npos || raw.back() == ' ' || raw.back() == '\t')
        return Fast::kDeclined;
      req.headers.emplace(std::string(name), std::string(value));
    }
  }
  if (v.size() - (end + 4) < body_len) return Fast::kDeclined;  // not all buffered: httplib reads it

  req.method.assign(method);
  req.target.assign(target);
  req.path.assign(path);
  req.version = "HTTP/1.1";
  req.body.assign(v.substr(end + 4, body_len));
  req.remote_addr = conn.remote_ip();
  req.remote_port = conn.remote_port();
  req.matches = {};
  httplib::Response res;
  try {
    fast_.handle(req, res);
  } catch (...) {
    res = httplib::Response();
    res.status = 500;
  }
  conn.Consume(end + 4 + body_len);
  if (res.status == -1) res.status = 200;
  close = close || close_asked;

  std::string& out = conn.out();
  char status_line[64];
  int n = std::snprintf(status_line, sizeof status_line, "HTTP/1.1 %d ", res.status);
  out.append(status_line, static_cast<size_t>(n)).append(ReasonPhrase(res.status)).append("\r\n");
  if (!res.body.empty() && !res.has_header("Content-Type")) out.append("Content-Type: text/plain\r\n");
  for (const auto& [name, value] : res.headers) out.append(name).append(": ").append(value).append("\r\n");
  if (!res.has_header("Content-Length")) out.append("Content-Length: ").append(std::to_string(res.body.size())).append("\r\n");
  if (close) out.append("Connection: close\r\n");
  out.append("\r\n").append(res.body);
  return close ? Fast::kClose : Fast::kKeep;
}

bool HttpServer::Serve(Connection& conn, bool stopping) {
  if (!conn.ReadAvailable()) return false;
  for (;;) {
    switch (conn.RequestReady()) {
      case Connection::Ready::kPartial:
        if (conn.peer_closed()) return false;  // nothing more can complete it
        if (!conn.HasBuffered()) {
          conn.TrimBuffer();
        } else if (conn.partial_since == Steady::time_point{}) {
          conn.partial_since = Steady::now();
        }
        return true;
      case Connection::Ready::kHeadTooLarge:
        conn.write(kHeadTooLarge.data(), kHeadTooLarge.size());
        conn.Flush();
        return false;
      case Connection::Ready::kComplete:
        break;
    }
    bool close = conn.requests_left <= 1 || stopping || svr_sock_ == INVALID_SOCKET;
    bool connection_closed = false, ok = true;
    if (Fast fast = TryFast(conn, close); fast != Fast::kDeclined) {
      connection_closed = fast == Fast::kClose;
    } else {
      conn.BeginRequest(conn.partial_since != Steady::time_point{} ? conn.partial_since : Steady::now());
      ok = process_request(conn, close, connection_closed, nullptr);
    }
    --conn.requests_left;
    conn.partial_since = {};
    if (!conn.Flush()) ok = false;
    if (!ok || connection_closed || close) return false;
  }
}

}  // namespace lk::api::internal
