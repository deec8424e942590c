// HttpServer (api/internal/http_server.h) on its own, with a handler that answers every request:
// the graceful Stop() returns whatever its connections are doing when it is called.
#include "api/internal/http_server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>

namespace lk::api::internal {
namespace {

class Answer final : public HttpHandler {
 public:
  std::optional<size_t> Admit(HttpRequest&, HttpResponse&) override { return 0; }
  void Handle(HttpRequest&, HttpResponse& response) override { response.set_content("ok", "text/plain"); }
  void Refuse(HttpRequest&, int status, std::string_view, HttpResponse& response) override {
    response.status = status;
  }
  void Finished(const HttpRequest&, const HttpResponse&) override {}
};

// A client socket on 127.0.0.1:`port` that has sent `bytes` and read the start of the answer.
int AskAndRead(int port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  char buf[256];
  EXPECT_GT(::recv(fd, buf, sizeof buf, 0), 0);
  return fd;
}

// Stop() while the last connection is closing on both ends: the server may find that connection
// still registered but with nothing left to do, and must still drain it and return (it once
// waited forever when its threads had run out of work before Stop posted the connection's
// shutdown). Many rounds, a fresh server each, the client's close racing the Stop.
TEST(HttpServerTest, StopReturnsWhileTheLastConnectionCloses) {
  Answer handler;
  for (int round = 0; round < 2000; ++round) {
    HttpServerOptions options;
    options.threads = 1 + round % 2;
    auto server = HttpServer::Start(options, handler);
    ASSERT_TRUE(server) << server.error().message;
    int fd = AskAndRead((*server)->port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    std::promise<void> stopped;
    auto done = stopped.get_future();
    std::thread stopper([&] {
      (*server)->Stop();
      stopped.set_value();
    });
    // The close lands at a different point of Stop() each round (0-63 us after it starts).
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(round % 64);
    while (std::chrono::steady_clock::now() < until) {
    }
    ::close(fd);
    // A liveness bound, not a timing assertion: Stop() takes milliseconds or never returns.
    if (done.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      ADD_FAILURE() << "round " << round << ": Stop() did not return";
      std::_Exit(1);  // the stopper thread is stuck for good
    }
    stopper.join();
  }
}

}  // namespace
}  // namespace lk::api::internal
