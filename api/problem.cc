// Problem bodies, JSON answers and the small request helpers every audience's handlers share.
#include <algorithm>
#include <cctype>
#include <cstdio>

#include "api/internal/service_context.h"

namespace lk::api::internal {
namespace {
using json = nlohmann::json;

const char* TitleFor(int status) {
  switch (status) {
    case 400:
      return "Bad request";
    case 401:
      return "Authentication required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not found";
    case 405:
      return "Method not allowed";
    case 408:
      return "Request timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length required";
    case 413:
      return "Request body too large";
    case 414:
      return "Request target too long";
    case 415:
      return "Unsupported media type";
    case 417:
      return "Expectation failed";
    case 429:
      return "Too many requests";
    case 431:
      return "Request header fields too large";
    case 503:
      return "Service unavailable";
    case 505:
      return "HTTP version not supported";
    default:
      return status >= 500 ? "Internal error" : "Request failed";
  }
}

std::string SlugFor(int status) {
  std::string s;
  for (const char* t = TitleFor(status); *t; ++t)
    s += *t == ' ' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(*t)));
  return s;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::unexpected<Problem> Bad(std::string field, std::string detail) {
  return std::unexpected(Problem(Error{Code::kInvalidArgument, std::move(detail)}, std::move(field)));
}

std::unexpected<Problem> Busy(std::string detail, int64_t seconds, int status) {
  Problem p(Error{status == 503 ? Code::kUnavailable : Code::kResourceExhausted, detail}, "", status);
  p.retry_after = std::max<int64_t>(1, seconds);
  p.public_detail = std::move(detail);
  return std::unexpected(std::move(p));
}

Problem Unavailable(std::string detail) {
  Problem p(Error{Code::kUnavailable, detail}, "", 503);
  p.public_detail = std::move(detail);
  return p;
}

int StatusFor(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
      return 400;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
      return 409;
    case Code::kFailedPrecondition:
      return 409;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kResourceExhausted:
      return 429;
    case Code::kUnavailable:
      return 503;
    case Code::kInternal:
      return 500;
    case Code::kDataLoss:
      return 500;
  }
  return 500;
}

void WriteProblem(const HttpRequest& req, HttpResponse& res, const Problem& p) {
  int status = p.status ? p.status : StatusFor(p.error.code);
  std::string detail = p.error.message;
  if (status >= 500) {
    detail = !p.public_detail.empty() ? p.public_detail
             : status == 503 ? "the ledger cannot be reached or written right now; retry in a moment, and "
                               "quote the request id if it lasts"
             : status == 505 ? p.error.message
                             : "an internal error occurred; quote the request id";
    if (detail != p.error.message)
      std::fprintf(stderr, "{\"level\":\"%s\",\"request_id\":%s,\"status\":%d,\"error\":%s}\n",
                   status == 503 ? "warning" : "error", Dump(req.id).c_str(), status,
                   Dump(p.error.message).c_str());
  }
  json body = {{"type", "https://lerarenkaart.be/problems/" + SlugFor(status)},
               {"title", TitleFor(status)},
               {"status", status},
               {"detail", detail}};
  if (!p.field.empty()) body["field"] = p.field;
  if (status < 500 && p.members.is_object())
    for (const auto& [name, value] : p.members.items())
      if (!body.contains(name)) body[name] = value;
  if (!req.id.empty()) body["request_id"] = req.id;
  res.status = status;
  int64_t retry = p.retry_after;
  if (status == 503 && retry == 0) retry = 1;
  if (retry > 0) res.set_header("Retry-After", std::to_string(retry));
  if (status == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"lerarenkaart\"");
  res.set_header("Cache-Control", "no-store");
  res.set_content(Dump(body), "application/problem+json");
}

void WriteJson(HttpResponse& res, const json& body, int status) {
  res.status = status;
  res.set_content(Dump(body), "application/json");
}

std::expected<json, Problem> ParseBody(const HttpRequest& req, size_t max_bytes,
                                       std::span<const FieldSpec> fields) {
  auto body = ParseJsonBody(req.body, max_bytes, fields);
  if (body) return std::move(*body);
  if (body.error().status == 413)
    return std::unexpected(Problem(Error{Code::kResourceExhausted, body.error().detail}, "", 413));
  return Bad(body.error().field, body.error().detail);
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

std::string BearerToken(const HttpRequest& req) {
  std::string_view h = req.header("Authorization");
  if (h.size() > 7 && (h.starts_with("Bearer ") || h.starts_with("bearer "))) return std::string(h.substr(7));
  return "";
}

std::string CookieValue(const HttpRequest& req, std::string_view name) {
  for (const auto& [field, cookies] : req.headers) {
    if (field.size() != 6 || !std::equal(field.begin(), field.end(), "cookie", [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        }))
      continue;
    size_t pos = 0;
    while (pos < cookies.size()) {
      size_t end = cookies.find(';', pos);
      if (end == std::string_view::npos) end = cookies.size();
      std::string_view part = cookies.substr(pos, end - pos);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      if (part.starts_with(name) && part.size() > name.size() && part[name.size()] == '=')
        return std::string(part.substr(name.size() + 1));
      pos = end + 1;
    }
  }
  return "";
}

std::string QuotedEtag(std::string_view bytes, size_t n) {
  return "\"" + HexEncode(Sha256(bytes)).substr(0, n) + "\"";
}

bool EtagMatches(const HttpRequest& req, std::string_view etag) {
  std::string_view inm = req.header("If-None-Match");
  if (inm.empty()) return false;
  if (inm == "*") return true;
  auto strip = [](std::string_view t) {
    if (t.starts_with("W/")) t.remove_prefix(2);
    return t;
  };
  std::string_view want = strip(etag);
  size_t pos = 0;
  while (pos < inm.size()) {
    size_t end = inm.find(',', pos);
    if (end == std::string_view::npos) end = inm.size();
    std::string_view tag = inm.substr(pos, end - pos);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (strip(tag) == want) return true;
    pos = end + 1;
  }
  return false;
}

void AnswerCached(const HttpRequest& req, HttpResponse& res, const std::string& body, const std::string& etag,
                  std::string_view type, std::string_view cache_control) {
  res.set_header("ETag", etag);
  res.set_header("Cache-Control", std::string(cache_control));
  if (EtagMatches(req, etag)) {
    res.status = 304;
    return;
  }
  res.set_content(body, type);
}

std::shared_ptr<const std::string> PassCache::Get(const std::string& etag) {
  std::lock_guard lock(mu_);
  auto it = map_.find(etag);
  if (it == map_.end()) return nullptr;
  order_.splice(order_.begin(), order_, it->second.second);
  return it->second.first;
}

void PassCache::Put(const std::string& etag, std::shared_ptr<const std::string> bytes) {
  std::lock_guard lock(mu_);
  if (map_.count(etag)) return;
  order_.push_front(etag);
  map_[etag] = {std::move(bytes), order_.begin()};
  if (map_.size() > capacity_) {
    map_.erase(order_.back());
    order_.pop_back();
  }
}

}  // namespace lk::api::internal
