#include "api/internal/http_connection.h"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cstdio>
#include <ctime>
#include <limits>

namespace lk::api::internal {
namespace {

using Steady = std::chrono::steady_clock;

constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kMaxMethod = 20;
// After answering a request whose body stays unread, the connection is half-closed and what the
// client still sends is read and dropped for a moment (at most this much, for at most this long)
// before the socket closes: closing with unread input would reset the connection and could
// destroy the answer before the client reads it.
constexpr size_t kLingerBytes = 256 * 1024;
constexpr std::chrono::seconds kLinger{2};

bool EqualsNoCase(std::string_view a, std::string_view b) { return beast::iequals(a, b); }

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// RFC 9110's IMF-fixdate of the current second, formatted once per second and thread.
const std::string& HttpDate() {
  thread_local std::time_t last = 0;
  thread_local std::string text;
  std::time_t now = std::time(nullptr);
  if (now != last) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    text.assign(buf, n);
    last = now;
  }
  return text;
}

// Header values go out as given, less anything that would end the field early.
void AppendFieldValue(std::string& out, std::string_view v) {
  for (char c : v) out += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
}

bool IsTokenName(std::string_view name) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

// The raw head, from the request line to the blank line, obeys the rules Beast's parser is more
// lenient about: CRLF only (a bare LF ends nothing), no obsolete line folding, not too many fields.
// Returns the status to refuse with (0: fine) and the reason.
std::pair<int, const char*> CheckRawHead(std::string_view head, const HttpLimits& limits) {
  size_t fields = 0;
  for (size_t i = 0; i < head.size(); ++i) {
    char c = head[i];
    if (c == '\n' && (i == 0 || head[i - 1] != '\r'))
      return {400, "header lines must end in CRLF, not a bare LF"};
    if (c == '\r' && (i + 1 >= head.size() || head[i + 1] != '\n'))
      return {400, "a bare CR in the request head"};
    if (c == '\n' && i + 1 < head.size()) {
      char next = head[i + 1];
      if (next == ' ' || next == '\t') return {400, "obsolete line folding is not accepted"};
      if (next != '\r') ++fields;
    }
  }
  if (fields > limits.max_header_fields) return {431, "the request has too many header fields"};
  return {0, nullptr};
}

}  // namespace

HttpConnection::HttpConnection(ConnectionOwner& server, tcp::socket socket, const IpAddress& peer,
                               std::string group, bool trusted)
    : server_(server),
      limits_(server.options().limits),
      stream_(std::move(socket)),
      peer_(peer),
      group_(std::move(group)),
      trusted_(trusted),
      buffer_(limits_.max_head_bytes + 2 * kReadChunk) {}

HttpConnection::~HttpConnection() { server_.Forget(this); }

bool HttpConnection::stopping() const { return server_.stopping(); }

void HttpConnection::Shutdown() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    if (self->state_ == State::kIdle) self->Close();
  });
}

void HttpConnection::Close() {
  if (closed_) return;
  closed_ = true;
  state_ = State::kClosing;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
}

bool HttpConnection::BodyPending() const {
  return parser_ && parser_->is_header_done() && !parser_->is_done();
}

void HttpConnection::ReadIdle() {
  if (buffer_.size() > 0) return ReadHead();
  if (stopping() || closed_) return Close();
  state_ = State::kIdle;
  stream_.expires_after(limits_.idle_timeout);
  stream_.async_read_some(buffer_.prepare(kReadChunk),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            self->buffer_.commit(n);
                            if (ec || n == 0) return self->Close();
                            self->ReadHead();
                          });
}

void HttpConnection::ReadHead() {
  state_ = State::kHead;
  req_ = HttpRequest();
  res_ = HttpResponse();
  req_.started = Steady::now();
  req_.client = ResolveClient(peer_, "", server_.options().trusted_proxies);
  parser_.emplace();
  parser_->eager(false);
  parser_->header_limit(static_cast<uint32_t>(limits_.max_head_bytes));
  parser_->body_limit(std::numeric_limits<uint64_t>::max());
  stream_.expires_at(req_.started + limits_.head_timeout);
  ContinueHead();
}

void HttpConnection::ContinueHead() {
  std::string_view v(static_cast<const char*>(buffer_.data().data()), buffer_.size());
  size_t end = v.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    size_t eol = v.find('\n');
    if ((eol == std::string_view::npos ? v.size() : eol) > limits_.max_target_bytes + kMaxMethod + 16)
      return Refuse(
          414, "the request target is longer than " + std::to_string(limits_.max_target_bytes) + " bytes");
    if (v.size() >= limits_.max_head_bytes)
      return Refuse(431,
                    "the request head is larger than " + std::to_string(limits_.max_head_bytes) + " bytes");
    if (auto [status, why] = CheckRawHead(v, limits_); status == 400) return Refuse(status, why);
    stream_.async_read_some(
        buffer_.prepare(kReadChunk), [self = shared_from_this()](beast::error_code ec, size_t n) {
          self->buffer_.commit(n);
          if (ec || n == 0) return self->Close();  // timed out or gone before a whole head: nobody to answer
          self->ContinueHead();
        });
    return;
  }
  if (end + 4 > limits_.max_head_bytes)
    return Refuse(431,
                  "the request head is larger than " + std::to_string(limits_.max_head_bytes) + " bytes");
  OnHead(v.substr(0, end + 4));
}

void HttpConnection::OnHead(std::string_view head) {
  if (auto [status, why] = CheckRawHead(head, limits_); status) return Refuse(status, why);
  beast::error_code ec;
  size_t used = parser_->put(asio::buffer(head.data(), head.size()), ec);
  if (ec || used != head.size() || !parser_->is_header_done()) {
    if (ec == http::error::header_limit) return Refuse(431, "the request head is too large");
    return Refuse(400, "the request is not valid HTTP/1.1 (" + ec.message() + ")");
  }
  buffer_.consume(used);

  const auto& msg = parser_->get();
  req_.method = msg.method_string();
  req_.target = msg.target();
  for (const auto& field : msg) req_.headers.emplace_back(field.name_string(), Trim(field.value()));
  std::string forwarded;
  for (const auto& [name, value] : req_.headers)
    if (EqualsNoCase(name, "x-forwarded-for"))
      forwarded += (forwarded.empty() ? "" : ",") + std::string(value);
  req_.client = ResolveClient(peer_, forwarded, server_.options().trusted_proxies);

  if (req_.method.size() > kMaxMethod) return Refuse(400, "the request method is too long");
  if (req_.target.size() > limits_.max_target_bytes)
    return Refuse(414,
                  "the request target is longer than " + std::to_string(limits_.max_target_bytes) + " bytes");
  if (req_.target.empty() || req_.target.front() != '/')
    return Refuse(400, "the request target must be a path starting with '/'");
  auto url = boost::urls::parse_origin_form(req_.target);
  if (!url) return Refuse(400, "the request target is not a valid path and query");
  for (auto segment : url->segments()) req_.segments.push_back(segment);
  req_.path = url->path();
  if (url->has_query()) req_.query = url->encoded_query();
  if (msg.version() != 11 && msg.version() != 10) return Refuse(505, "only HTTP/1.1 and HTTP/1.0 are served");
  req_.head = req_.method == "HEAD";

  int status = 0;
  std::string detail;
  if (!CheckFraming(status, detail)) return Refuse(status, detail);

  ++requests_;
  state_ = State::kHandling;
  std::optional<size_t> cap;
  try {
    cap = server_.handler().Admit(req_, res_);
  } catch (...) {
    return Refuse(500, "the request could not be handled");
  }
  if (!cap) return Write(BodyPending() || !msg.keep_alive());
  auto length = parser_->content_length();
  if (BodyPending() && ((length && *length > *cap) || *cap == 0))
    return Refuse(
        413, "the request body is larger than the " + std::to_string(*cap) + " bytes this endpoint accepts");
  if (!BodyPending()) return HandleRequest();
  parser_->body_limit(*cap);
  if (EqualsNoCase(req_.header("expect"), "100-continue")) {
    out_ = "HTTP/1.1 100 Continue\r\n\r\n";
    stream_.expires_after(limits_.write_timeout);
    asio::async_write(stream_, asio::buffer(out_), [self = shared_from_this()](beast::error_code e, size_t) {
      if (e) return self->Close();
      self->StartBody();
    });
    return;
  }
  StartBody();
}

// One framing rule for every route (see the header). Fills status and detail when refusing.
bool HttpConnection::CheckFraming(int& status, std::string& detail) {
  const auto& msg = parser_->get();
  size_t hosts = 0, lengths = 0, encodings = 0;
  std::string_view length_value, encoding_value;
  bool content_encoding = false, expect = false;
  std::string_view expect_value;
  for (const auto& [name, value] : req_.headers) {
    if (EqualsNoCase(name, "host"))
      ++hosts;
    else if (EqualsNoCase(name, "content-length"))
      ++lengths, length_value = value;
    else if (EqualsNoCase(name, "transfer-encoding"))
      ++encodings, encoding_value = value;
    else if (EqualsNoCase(name, "content-encoding"))
      content_encoding = true;
    else if (EqualsNoCase(name, "expect"))
      expect = true, expect_value = value;
  }
  auto refuse = [&](int s, std::string d) {
    status = s;
    detail = std::move(d);
    return false;
  };
  if (msg.version() == 11 ? hosts != 1 : hosts > 1)
    return refuse(400, "an HTTP/1.1 request needs exactly one Host field");
  if (lengths > 1) return refuse(400, "the request has more than one Content-Length field");
  if (lengths == 1 && (!IsDigits(length_value) || length_value.size() > 15))
    return refuse(400, "Content-Length must be a number of bytes");
  if (encodings > 1 || (encodings == 1 && !EqualsNoCase(encoding_value, "chunked")))
    return refuse(400, "the only Transfer-Encoding accepted is 'chunked'");
  if (encodings == 1 && msg.version() == 10)
    return refuse(400, "Transfer-Encoding is not allowed in HTTP/1.0");
  if (encodings && lengths)
    return refuse(400, "a request cannot have both Content-Length and Transfer-Encoding");
  bool has_body = encodings == 1 || (lengths == 1 && length_value != "0" &&
                                     length_value.find_first_not_of('0') != std::string_view::npos);
  std::string_view m = req_.method;
  if (has_body &&
      (m == "GET" || m == "HEAD" || m == "DELETE" || m == "OPTIONS" || m == "TRACE" || m == "CONNECT"))
    return refuse(400, std::string(m) + " requests cannot have a body");
  if (!encodings && !lengths && (m == "POST" || m == "PUT" || m == "PATCH"))
    return refuse(411, "send the body's length in Content-Length (or a chunked body)");
  if (content_encoding)
    return refuse(415, "request bodies must not be compressed: send them without Content-Encoding");
  if (expect && !EqualsNoCase(expect_value, "100-continue"))
    return refuse(417, "the only expectation accepted is '100-continue'");
  return true;
}

void HttpConnection::StartBody() {
  state_ = State::kBody;
  body_started_ = Steady::now();
  body_received_ = 0;
  ContinueBody();
}

void HttpConnection::ContinueBody() {
  if (parser_->is_done()) return HandleRequest();
  // The deadline moves with what has arrived: the body timeout, plus a second per min_body_rate bytes.
  auto allowance =
      std::chrono::milliseconds(1000 * body_received_ / std::max<size_t>(1, limits_.min_body_rate));
  stream_.expires_at(body_started_ + limits_.body_timeout + allowance);
  http::async_read_some(
      stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t n) {
        self->body_received_ += n;
        if (ec == http::error::body_limit)
          return self->Refuse(413, "the request body is larger than this endpoint accepts");
        if (ec == beast::error::timeout || ec == http::error::end_of_stream || ec == asio::error::eof ||
            ec == asio::error::connection_reset || ec == asio::error::operation_aborted)
          return self->Close();
        if (ec) return self->Refuse(400, "the request body is not valid (" + ec.message() + ")");
        self->ContinueBody();
      });
}

void HttpConnection::HandleRequest() {
  state_ = State::kHandling;
  req_.body = std::move(parser_->get().body());
  try {
    server_.handler().Handle(req_, res_);
  } catch (...) {
    res_ = HttpResponse();
    return Refuse(500, "the request could not be handled");
  }
  bool close = !parser_->get().keep_alive() || stopping() || requests_ >= limits_.max_requests_per_connection;
  Write(close);
}

void HttpConnection::Refuse(int status, std::string detail) {
  res_ = HttpResponse();
  try {
    server_.handler().Refuse(req_, status, detail, res_);
  } catch (...) {
    res_ = HttpResponse();
    res_.status = status;
  }
  Write(true);
}

void HttpConnection::Write(bool close) {
  state_ = State::kWriting;
  bool no_body = res_.status < 200 || res_.status == 204 || res_.status == 304;
  out_.clear();
  char line[64];
  std::string_view reason = http::obsolete_reason(static_cast<http::status>(res_.status));
  int n = std::snprintf(line, sizeof line, "HTTP/1.1 %d ", res_.status);
  out_.append(line, static_cast<size_t>(n)).append(reason.empty() ? "Unknown" : reason).append("\r\n");
  out_.append("Date: ").append(HttpDate()).append("\r\n");
  for (const auto& [name, value] : res_.headers) {
    if (!IsTokenName(name) || EqualsNoCase(name, "content-length") || EqualsNoCase(name, "connection") ||
        EqualsNoCase(name, "transfer-encoding"))
      continue;
    out_.append(name).append(": ");
    AppendFieldValue(out_, value);
    out_.append("\r\n");
  }
  for (const auto& [name, value] : server_.options().default_headers)
    if (res_.header(name).empty()) out_.append(name).append(": ").append(value).append("\r\n");
  if (!no_body) out_.append("Content-Length: ").append(std::to_string(res_.body.size())).append("\r\n");
  if (close) out_.append("Connection: close\r\n");
  out_.append("\r\n");
  if (!no_body && !req_.head) out_.append(res_.body);
  auto allowance = std::chrono::milliseconds(1000 * out_.size() / std::max<size_t>(1, limits_.min_body_rate));
  stream_.expires_after(limits_.write_timeout + allowance);
  // Counted and logged before it is sent, so that a client that has the answer also finds it in
  // the metrics.
  try {
    server_.handler().Finished(req_, res_);
  } catch (...) {
  }
  asio::async_write(stream_, asio::buffer(out_),
                    [self = shared_from_this(), close](beast::error_code ec, size_t) {
                      if (ec) return self->Close();
                      if (self->out_.capacity() > 64 * 1024) std::string().swap(self->out_);
                      if (close) return self->Linger();
                      self->parser_.reset();
                      self->ReadIdle();
                    });
}

void HttpConnection::Linger() {
  state_ = State::kClosing;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  lingered_ = 0;
  stream_.expires_after(kLinger);
  struct Drain {
    std::shared_ptr<HttpConnection> self;
    void operator()(beast::error_code e, size_t n) {
      self->lingered_ += n;
      if (e || n == 0 || self->lingered_ >= kLingerBytes) return self->Close();
      self->stream_.async_read_some(asio::buffer(self->linger_buf_), std::move(*this));
    }
  };
  stream_.async_read_some(asio::buffer(linger_buf_), Drain{shared_from_this()});
}

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (EqualsNoCase(k, name)) return v;
  return {};
}

std::optional<std::string> HttpRequest::param(std::string_view name) const {
  if (query.empty()) return std::nullopt;
  // Through the whole target: Boost.URL 1.81's parse_query() decodes the last value past the end
  // of a view that is not NUL-terminated.
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  for (auto p : url->params(boost::urls::encoding_opts(/*space_as_plus=*/true))) {
    if (p.key != name) continue;
    return p.has_value ? p.value : std::string();
  }
  return std::nullopt;
}

void HttpResponse::set_header(std::string_view name, std::string value) {
  std::erase_if(headers, [&](const auto& h) { return EqualsNoCase(h.first, name); });
  headers.emplace_back(std::string(name), std::move(value));
}

std::string_view HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (EqualsNoCase(k, name)) return v;
  return {};
}

void HttpResponse::set_content(std::string content, std::string_view type) {
  body = std::move(content);
  set_header("Content-Type", std::string(type));
}

}  // namespace lk::api::internal
