#pragma once
// One HTTP/1.1 connection of HttpServer (http_server.h has the rules it enforces): it reads a
// request head, checks it and its framing, asks the handler to admit it, reads the body within its
// cap and deadline, hands the request to the handler, writes the answer, and lingers before
// closing when a body stayed unread. All of a connection's work runs on its strand, one step at
// a time. Used only by http_server.cc (the listener, which accepts and owns connections) and
// http_connection.cc.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "api/internal/client_address.h"
#include "api/internal/http_server.h"

namespace lk::api::internal {

// For this header and the two files that include it (the connection layer).
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class HttpConnection;

// What a connection needs of the server that accepted it. Called from any connection's strand.
class ConnectionOwner {
 public:
  virtual const HttpServerOptions& options() const = 0;
  virtual HttpHandler& handler() = 0;
  // True once Stop() began: connections answer what they are reading, then close.
  virtual bool stopping() const = 0;
  // Called once from the connection's destructor.
  virtual void Forget(HttpConnection* connection) = 0;

 protected:
  ~ConnectionOwner() = default;
};

// One accepted socket. Made by the owner with std::make_shared, then Start(); it keeps itself
// alive through its pending operations and tells the owner when it is gone.
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(ConnectionOwner& server, tcp::socket socket, const IpAddress& peer, std::string group,
                 bool trusted);
  ~HttpConnection();
  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadIdle(); });
  }
  // Posted by Stop(): an idle connection closes now; others close after their answer.
  void Shutdown();
  const std::string& group() const { return group_; }
  bool trusted() const { return trusted_; }

 private:
  enum class State { kIdle, kHead, kBody, kHandling, kWriting, kClosing };

  void ReadIdle();
  void ReadHead();
  void ContinueHead();
  void OnHead(std::string_view head);
  bool CheckFraming(int& status, std::string& detail);
  void StartBody();
  void ContinueBody();
  void HandleRequest();
  // Answers with the handler's problem body for `status` and closes after it.
  void Refuse(int status, std::string detail);
  void Write(bool close);
  void Linger();
  void Close();
  bool BodyPending() const;
  bool stopping() const;

  ConnectionOwner& server_;
  const HttpLimits& limits_;
  beast::tcp_stream stream_;
  IpAddress peer_;
  std::string group_;
  bool trusted_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest req_;
  HttpResponse res_;
  std::string out_;
  State state_ = State::kIdle;
  size_t requests_ = 0;
  bool closed_ = false;
  std::chrono::steady_clock::time_point body_started_;
  uint64_t body_received_ = 0;
  size_t lingered_ = 0;
  char linger_buf_[4096];
};

}  // namespace lk::api::internal
