#pragma once
// httplib::Server with an event-driven connection layer (httplib 0.11 lets a subclass replace
// process_and_close_socket, as its SSLServer does). httplib's own design holds one pool thread per
// keep-alive connection for the connection's whole life; here accepted connections are parked in
// one epoll set while idle, and a connection that becomes readable is queued (FIFO) to a fixed
// pool of workers. A worker reads what has arrived without blocking; once a whole request (head,
// and a body of up to 64 KiB) is buffered it runs httplib's parser, routing and handlers
// (Server::process_request) on it and on any pipelined requests already buffered, sends each
// response with one send(), and parks the connection again. A partly received request is parked
// too, so a slow client never holds a worker while sending a head or a small body; it must finish
// within the read timeout (counted from its first byte) or is closed. Larger or chunked bodies and
// "Expect: 100-continue" requests are read by the worker, which gives up (the request fails) when
// the body falls behind 16 kB/s on average after a grace of the read timeout.
//
// Fast path: before handing a request to httplib, a worker can answer it itself. When a fast
// route is set and the buffered request is plain (an "HTTP/1.1" request line with an origin-form
// target without '%' or '#', well-formed header lines, no Transfer-Encoding or Expect, at most one
// Content-Length, the whole body buffered, and each header named in `headers` with a value that is
// not empty, has no '%' and no trailing space), the worker parses it in place, asks `wants(method,
// path)`, and if so calls `handle` with an httplib::Request that carries the method, target, path,
// the query string (unparsed: `params` stays empty), the body, the remote address and only the
// headers named in `headers` (in order; others are dropped), and no regex matches. The response
// goes out in one send() as httplib would write it, less its "Keep-Alive: timeout=..., max=..."
// header (HTTP/1.1 keeps connections open without it). Anything else, or a route `wants`
// declines, goes through httplib's parser and router unchanged.
// Thread safety: configure (set_worker_threads, set_fast_route and httplib's setters) before listening.
#include <httplib.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lk::api::internal {

class HttpServer : public httplib::Server {
 public:
  HttpServer();
  ~HttpServer() override;
  // Worker threads that run requests; 0 (the default) means DefaultWorkerThreads(). A request
  // holds its worker until answered, so long handlers (imports, reports) occupy one each.
  void set_worker_threads(int n) { worker_threads_ = n; }
  // max(2, hardware threads).
  static int DefaultWorkerThreads();

  struct FastRoute {
    std::function<bool(std::string_view method, std::string_view path)> wants;
    std::vector<std::string> headers;  // the request headers `handle` sees (case-insensitive names)
    // Fills the response (status -1 means 200); runs on the worker, like an httplib handler.
    std::function<void(const httplib::Request&, httplib::Response&)> handle;
  };
  // Sets (or, with an empty `wants`, clears) the fast path described above.
  void set_fast_route(FastRoute route) { fast_ = std::move(route); }

 private:
  class Connection;
  class Scheduler;
  friend class Scheduler;
  // Called by httplib's accept loop (on the listening thread): parks the new connection.
  bool process_and_close_socket(socket_t sock) override;
  // Runs the requests buffered on `conn` (reading what has arrived first). Returns whether the
  // connection stays open (parked again) or must be closed.
  bool Serve(Connection& conn, bool stopping);
  // Answers the request at the front of `conn`'s buffer on the fast path if it qualifies:
  // kDeclined leaves the buffer alone for httplib.
  enum class Fast { kDeclined, kKeep, kClose };
  Fast TryFast(Connection& conn, bool close);

  FastRoute fast_;

  int worker_threads_ = 0;
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace lk::api::internal
