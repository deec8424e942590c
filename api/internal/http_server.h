#pragma once
// The HTTP/1.1 connection layer: Boost.Beast's parser (fuzzed upstream) on Asio sockets, with
// every limit enforced before the bytes it limits are read. One io_context runs on a fixed set
// of threads; sockets are never read or written with a thread waiting on them, so a slow or
// stalled client holds a few kilobytes of memory and a timer, never a thread. Handlers run on
// those threads (a handler that blocks, e.g. on the ledger, holds one thread while it runs).
//
// The rules every request meets, before the service sees it:
// - Head: at most HttpLimits::max_head_bytes (431; 414 when the request line alone is too long)
//   and max_header_fields fields (431); CRLF line ends only, no obsolete line folding, no space
//   before a colon (400); origin-form target (400); HTTP/1.1 needs exactly one Host (400).
// - Framing, one rule for every route: a body is framed by exactly one Content-Length of digits,
//   or by Transfer-Encoding: chunked alone; both, a list, a sign or any other coding is a 400.
//   GET, HEAD, DELETE and OPTIONS take no body (400); POST, PUT and PATCH need a length (411).
//   A request Content-Encoding is refused (415): bodies are never inflated.
// - Expect: only 100-continue (417 otherwise), answered once the service admitted the request.
// - The service admits each request from its head (HttpHandler::Admit) and names the largest body
//   it will read; a larger Content-Length is refused at once (413), a chunked body as soon as it
//   passes the cap (413). Whenever a body is left unread the answer says "Connection: close" and
//   the connection is closed after it, so nothing in an unread body is ever taken as a request.
// - Time: idle keep-alive connections close after idle_timeout; a head must arrive within
//   head_timeout of its first byte; a body within body_timeout plus one second per
//   min_body_rate bytes received; a response must be taken within write_timeout plus one second
//   per min_body_rate bytes. Pipelined requests are read one at a time, after the previous answer
//   was written, so a client that does not read holds at most one answer.
// - Connections: at most max_connections in all, and max_connections_per_address per client
//   address (IPv6 by /64; proxies in trusted_proxies are exempt); the next one is answered 503
//   with Retry-After and closed.
// - Range and conditional ranges are ignored: every answer is whole.
// Thread safety: Start and Stop from one thread; Handler methods are called concurrently.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/internal/client_address.h"
#include "base/base.h"

namespace lk::api::internal {

struct HttpLimits {
  size_t max_head_bytes = 16 * 1024;  // request line and header fields together
  size_t max_target_bytes = 8 * 1024;
  size_t max_header_fields = 64;
  std::chrono::milliseconds idle_timeout{5000}, head_timeout{10000}, body_timeout{10000},
      write_timeout{10000};
  size_t min_body_rate = 16 * 1024;         // bytes per second a slow body or reader must keep up
  size_t max_connections = 4096;            // in all (also capped by the open-file limit)
  size_t max_connections_per_address = 64;  // per client address or IPv6 /64
  size_t max_requests_per_connection = 10000;
};

// A request as the service sees it. The header views and the target stay valid until
// HttpHandler::Finished has returned.
struct HttpRequest {
  std::string_view method;            // verbatim: an RFC 9110 token, at most 20 characters
  bool head = false;                  // HEAD: routed as GET, answered without a body
  std::string_view target;            // origin-form: path and query, as sent
  std::string path;                   // percent-decoded
  std::vector<std::string> segments;  // the decoded path's segments ("/v1/cards/X" -> v1, cards, X)
  std::string_view query;             // as sent, without '?'
  std::vector<std::pair<std::string_view, std::string_view>> headers;  // in order, values trimmed
  std::string body;
  ClientAddress client;                           // who sent it (after trusted proxies), see client_address.h
  std::chrono::steady_clock::time_point started;  // when its first byte arrived

  // Set by the service (request id, the route and the authenticated subject).
  std::string id;
  int route = -1;
  std::string subject;
  std::vector<std::string> params;  // the route's path parameters, in order

  // The first value of header `name` (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
  // The first value of query parameter `name`, percent- and '+'-decoded; nullopt when absent.
  std::optional<std::string> param(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // never Content-Length or Connection
  std::string body;
  // Replaces every field `name` (case-insensitive) with one of `value`.
  void set_header(std::string_view name, std::string value);
  std::string_view header(std::string_view name) const;
  void set_content(std::string content, std::string_view type);
};

// What the server asks of the service, in the order it asks it.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // The head passed the rules above and nothing of the body has been read. Returns the largest
  // body the request may have (0: none), or std::nullopt after filling `response` to answer now
  // (an announced body then stays unread and the connection closes after the answer).
  virtual std::optional<size_t> Admit(HttpRequest& request, HttpResponse& response) = 0;
  // The whole body has been read (at most the admitted size).
  virtual void Handle(HttpRequest& request, HttpResponse& response) = 0;
  // The server refuses the request itself (`status`, with `detail` a sentence saying why);
  // `request` holds what could be read of it, perhaps only the client's address.
  virtual void Refuse(HttpRequest& request, int status, std::string_view detail, HttpResponse& response) = 0;
  // Called once per answer, just before it is written.
  virtual void Finished(const HttpRequest& request, const HttpResponse& response) = 0;
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;     // 0: an ephemeral port
  int threads = 0;  // 0: DefaultThreads()
  HttpLimits limits;
  TrustedProxies trusted_proxies;
  // Added to every answer unless the handler set the field itself (security headers).
  std::vector<std::pair<std::string, std::string>> default_headers;
};

class HttpServer {
 public:
  // Binds and starts serving on background threads; kUnavailable when the address cannot be bound.
  // `handler` must outlive the server.
  static Result<std::unique_ptr<HttpServer>> Start(HttpServerOptions options, HttpHandler& handler);
  virtual ~HttpServer() = default;  // stops first if still running
  virtual int port() const = 0;
  // Graceful: stops accepting and closes idle connections at once; requests being read or
  // handled are answered (with "Connection: close") and their connections closed; then the
  // threads end. Returns when done. Idempotent.
  virtual void Stop() = 0;
  // max(4, 2 x hardware threads): handlers may block on the ledger.
  static int DefaultThreads();
};

}  // namespace lk::api::internal
