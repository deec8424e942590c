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
// Thread safety: configure (set_worker_threads and httplib's setters) before listening.
#include <httplib.h>

#include <memory>

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

 private:
  class Connection;
  class Scheduler;
  friend class Scheduler;
  // Called by httplib's accept loop (on the listening thread): parks the new connection.
  bool process_and_close_socket(socket_t sock) override;
  // Runs the requests buffered on `conn` (reading what has arrived first). Returns whether the
  // connection stays open (parked again) or must be closed.
  bool Serve(Connection& conn, bool stopping);

  int worker_threads_ = 0;
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace lk::api::internal
