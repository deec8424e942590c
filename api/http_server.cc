// The listener: binds, accepts, caps connections in all and per client address, hands each
// accepted socket to an HttpConnection (http_connection.cc), and stops gracefully.
#include "api/internal/http_server.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "api/internal/http_connection.h"

namespace lk::api::internal {
namespace {

class ServerImpl final : public HttpServer, public ConnectionOwner {
 public:
  ServerImpl(HttpServerOptions options, HttpHandler& handler)
      : options_(std::move(options)),
        handler_(handler),
        threads_(options_.threads > 0 ? options_.threads : DefaultThreads()),
        io_(threads_),
        acceptor_(asio::make_strand(io_)),
        retry_timer_(acceptor_.get_executor()) {
    // Open files beyond the soft limit fail accept(); raise it to the hard limit and keep some
    // room for the ledger, logs and keys.
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
      if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
      }
      if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 128)
        options_.limits.max_connections = std::min<size_t>(options_.limits.max_connections, rl.rlim_cur - 64);
    }
    std::string body =
        R"({"type":"https://lerarenkaart.be/problems/service-unavailable","title":"Service unavailable","status":503,)"
        R"("detail":"too many connections from this address; close some and try again"})";
    busy_answer_ =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nRetry-After: 1\r\n";
    for (auto& [name, value] : options_.default_headers) busy_answer_ += name + ": " + value + "\r\n";
    busy_answer_ += "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  ~ServerImpl() override { Stop(); }

  Result<> Listen() {
    beast::error_code ec;
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec)
      return Fail(Code::kInvalidArgument, "listen address '" + options_.host + "' is not an IP address");
    tcp::endpoint ep(address, static_cast<unsigned short>(options_.port));
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(1024, ec);
    if (ec)
      return Fail(Code::kUnavailable, "cannot listen on " + options_.host + ":" +
                                          std::to_string(options_.port) + " (" + ec.message() + ")");
    port_ = acceptor_.local_endpoint().port();
    Accept();
    for (int i = 0; i < threads_; ++i) threads_list_.emplace_back([this] { io_.run(); });
    return {};
  }

  int port() const override { return port_; }

  void Stop() override {
    std::lock_guard stop_lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      retry_timer_.cancel();
    });
    std::vector<std::shared_ptr<HttpConnection>> live;
    {
      std::lock_guard lock(mu_);
      for (auto& [ptr, weak] : sessions_)
        if (auto s = weak.lock()) live.push_back(std::move(s));
    }
    for (auto& s : live) s->Shutdown();
    live.clear();
    {
      std::unique_lock lock(mu_);
      drained_.wait(lock, [this] { return sessions_.empty(); });
    }
    work_.reset();
    io_.stop();
    for (auto& t : threads_list_) t.join();
  }

  bool stopping() const override { return stopping_.load(std::memory_order_relaxed); }
  const HttpServerOptions& options() const override { return options_; }
  HttpHandler& handler() override { return handler_; }

  void Forget(HttpConnection* s) override {
    std::lock_guard lock(mu_);
    sessions_.erase(s);
    --total_;
    if (!s->trusted()) {
      auto it = per_group_.find(s->group());
      if (it != per_group_.end() && --it->second == 0) per_group_.erase(it);
    }
    if (sessions_.empty()) drained_.notify_all();
  }

 private:
  void Accept() {
    acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (ec) {
        // Out of file descriptors or similar: try again shortly instead of spinning.
        retry_timer_.expires_after(std::chrono::milliseconds(50));
        retry_timer_.async_wait([this](beast::error_code e) {
          if (!e) Accept();
        });
        return;
      }
      Adopt(std::move(socket));
      Accept();
    });
  }

  void Adopt(tcp::socket socket) {
    beast::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    if (ec) return;
    socket.set_option(tcp::no_delay(true), ec);
    IpAddress peer;
    auto addr = remote.address();
    if (addr.is_v6() && addr.to_v6().is_v4_mapped())
      addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
    if (addr.is_v4()) {
      auto b = addr.to_v4().to_bytes();
      std::copy(b.begin(), b.end(), peer.bytes.begin());
    } else {
      peer.v6 = true;
      auto b = addr.to_v6().to_bytes();
      std::copy(b.begin(), b.end(), peer.bytes.begin());
    }
    bool trusted = options_.trusted_proxies.Contains(peer);
    std::string group = GroupOf(peer);
    std::shared_ptr<HttpConnection> session;
    {
      std::lock_guard lock(mu_);
      size_t& mine = per_group_[group];
      if (stopping() || total_ >= options_.limits.max_connections ||
          (!trusted && mine >= options_.limits.max_connections_per_address)) {
        if (mine == 0) per_group_.erase(group);
      } else {
        if (!trusted)
          ++mine;
        else if (mine == 0)
          per_group_.erase(group);
        ++total_;
        session = std::make_shared<HttpConnection>(*this, std::move(socket), peer, std::move(group), trusted);
        sessions_.emplace(session.get(), session);
      }
    }
    if (!session) {
      // Best effort and without waiting: the answer fits in the socket's send buffer.
      socket.non_blocking(true, ec);
      socket.write_some(asio::buffer(busy_answer_), ec);
      socket.shutdown(tcp::socket::shutdown_both, ec);
      socket.close(ec);
      return;
    }
    session->Start();
  }

  HttpServerOptions options_;
  HttpHandler& handler_;
  int threads_;
  asio::io_context io_;
  // Keeps io_.run() going while no handler is pending: Stop() posts each live connection's
  // Shutdown after the acceptor has closed, and without the guard the threads could have run out
  // of work and returned in between, leaving that post (and the connection it holds) unrun and
  // Stop() waiting for a drain that never comes. Released once the connections have drained.
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  std::vector<std::thread> threads_list_;
  int port_ = 0;
  std::string busy_answer_;
  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;
  bool stopped_ = false;

  std::mutex mu_;
  std::condition_variable drained_;
  std::unordered_map<HttpConnection*, std::weak_ptr<HttpConnection>> sessions_;
  std::unordered_map<std::string, size_t> per_group_;
  size_t total_ = 0;
};

}  // namespace

int HttpServer::DefaultThreads() {
  return std::max(4, 2 * static_cast<int>(std::thread::hardware_concurrency()));
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options, HttpHandler& handler) {
  auto server = std::make_unique<ServerImpl>(std::move(options), handler);
  if (auto r = server->Listen(); !r) return std::unexpected(r.error());
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace lk::api::internal
