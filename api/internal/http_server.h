#pragma once
// httplib::Server with a leaner per-connection loop (httplib 0.11 lets a subclass replace
// process_and_close_socket, as its SSLServer does). Per request httplib's own loop polls before
// every read and write, writes the head and the body of a response in two send() calls (two TCP
// segments, two wake-ups of the client) and waits for the next keep-alive request in 10 ms polls
// followed by 1 ms sleeps. This one reads without polling when data is there, writes each
// response with one send(), and waits for the next request in a single poll() that Stop also
// ends (an eventfd), so idle keep-alive connections close at once on shutdown.
// Routing, parsing, limits and handlers stay httplib's (Server::process_request).
#include <httplib.h>

namespace lk::api::internal {

class HttpServer : public httplib::Server {
 public:
  HttpServer();
  ~HttpServer() override;
  // Ends the keep-alive waits of idle connections. Call right after stop(); requests in flight
  // still finish and are answered.
  void WakeIdleConnections();

 private:
  bool process_and_close_socket(socket_t sock) override;
  int wake_fd_ = -1;  // eventfd; readable once stopping
};

}  // namespace lk::api::internal
