#include "tests/passgen/google_stand_in.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <set>
#include <thread>

#include "base/base.h"

namespace lk::testing {
using json = nlohmann::json;

namespace {

// RS256 check of a compact JWS with OpenSSL; returns the claims or an error sentence.
std::string VerifyRs256(const std::string& jws, const std::string& pem, json& claims) {
  auto dot1 = jws.find('.'), dot2 = jws.rfind('.');
  if (dot1 == std::string::npos || dot1 == dot2) return "not a compact JWS";
  auto header = Base64UrlDecode(jws.substr(0, dot1));
  auto payload = Base64UrlDecode(jws.substr(dot1 + 1, dot2 - dot1 - 1));
  auto sig = Base64UrlDecode(jws.substr(dot2 + 1));
  if (!header || !payload || !sig) return "bad base64url";
  auto h = json::parse(*header, nullptr, false);
  if (!h.is_object() || h.value("alg", "") != "RS256") return "header alg is not RS256";
  BIO* bio = BIO_new_mem_buf(pem.data(), int(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!key) return "stand-in cannot read the public key";
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string input = jws.substr(0, dot2);
  int ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
           EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                            reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  if (!ok) return "signature does not verify with the service account's public key";
  claims = json::parse(*payload, nullptr, false);
  if (!claims.is_object()) return "claims are not a JSON object";
  return "";
}

}  // namespace

struct GoogleStandIn::Impl {
  std::string pem, email;
  httplib::Server server;
  std::thread thread;
  int port = 0;
  mutable std::mutex mu;
  std::vector<Fault> faults;
  std::vector<Request> log;
  std::set<std::string> tokens;
  size_t grants = 0;
  std::vector<std::string> assertion_errors;
  std::map<std::string, json> objects, classes;

  // Applies a pending fault; true when the fault answered the request.
  bool Faulted(const httplib::Request& req, httplib::Response& res) {
    Fault f;
    {
      std::lock_guard l(mu);
      auto it = std::find_if(faults.begin(), faults.end(),
                             [&](const Fault& x) { return req.path.starts_with(x.path_prefix); });
      if (it == faults.end()) return false;
      f = *it;
      if (--it->times == 0) faults.erase(it);
    }
    if (f.delay.count() > 0) {
      std::this_thread::sleep_for(f.delay);
      return false;
    }
    if (f.malformed) {
      res.status = 200;
      res.set_content("{\"id\": \"truncated", "application/json");
      return true;
    }
    res.status = f.status;
    if (!f.retry_after.empty()) res.set_header("Retry-After", f.retry_after);
    res.set_content(
        json{{"error", {{"code", f.status}, {"message", "stand-in fault " + std::to_string(f.status)}}}}
            .dump(),
        "application/json");
    return true;
  }

  void Record(const httplib::Request& req, const httplib::Response& res) {
    std::lock_guard l(mu);
    // httplib fills in 200 only after the logger ran.
    log.push_back({req.method, req.path, req.body, res.status == -1 ? 200 : res.status,
                   req.get_header_value("Authorization")});
  }

  static void Error(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(json{{"error", {{"code", status}, {"message", message}}}}.dump(), "application/json");
  }

  void Token(const httplib::Request& req, httplib::Response& res) {
    auto refuse = [&](const std::string& why) {
      {
        std::lock_guard l(mu);
        assertion_errors.push_back(why);
      }
      res.status = 400;
      res.set_content(json{{"error", "invalid_grant"}, {"error_description", why}}.dump(),
                      "application/json");
    };
    if (req.get_header_value("Content-Type") != "application/x-www-form-urlencoded")
      return refuse("content type is not a form");
    if (req.get_param_value("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer")
      return refuse("wrong grant_type");
    json c;
    std::string why = VerifyRs256(req.get_param_value("assertion"), pem, c);
    if (!why.empty()) return refuse(why);
    if (c.value("iss", "") != email) return refuse("iss is not the service account");
    if (c.value("scope", "") != "https://www.googleapis.com/auth/wallet_object.issuer")
      return refuse("wrong scope");
    if (c.value("aud", "") != "http://127.0.0.1:" + std::to_string(port) + "/token")
      return refuse("wrong aud");
    if (!c["iat"].is_number_integer() || !c["exp"].is_number_integer()) return refuse("iat/exp missing");
    int64_t life = c["exp"].get<int64_t>() - c["iat"].get<int64_t>();
    if (life <= 0 || life > 3600) return refuse("exp must be within one hour after iat");
    std::string token;
    {
      std::lock_guard l(mu);
      token = "ya29.stand-in-" + std::to_string(++grants);
      tokens.insert(token);
    }
    res.set_content(json{{"access_token", token}, {"expires_in", 3599}, {"token_type", "Bearer"}}.dump(),
                    "application/json");
  }

  // Checks the bearer token and, for writes, a JSON object body.
  bool Authorized(const httplib::Request& req, httplib::Response& res, json* body) {
    auto auth = req.get_header_value("Authorization");
    bool known;
    {
      std::lock_guard l(mu);
      known = auth.starts_with("Bearer ") && tokens.count(auth.substr(7));
    }
    if (!known) {
      Error(res, 401, "Request had invalid authentication credentials.");
      return false;
    }
    if (body) {
      if (req.get_header_value("Content-Type") != "application/json") {
        Error(res, 400, "content type must be application/json");
        return false;
      }
      *body = json::parse(req.body, nullptr, false);
      if (!body->is_object()) {
        Error(res, 400, "Invalid JSON payload received.");
        return false;
      }
    }
    return true;
  }

  void Resource(const httplib::Request& req, httplib::Response& res, std::map<std::string, json>& store,
                const std::string& kind) {
    std::string id = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
    json body;
    if (!Authorized(req, res, req.method == "GET" ? nullptr : &body)) return;
    std::lock_guard l(mu);
    if (req.method == "POST") {
      if (!body.contains("id") || !body["id"].is_string()) return Error(res, 400, "id is required");
      std::string bid = body["id"];
      if (store.count(bid)) return Error(res, 409, "Resource already exists: " + bid);
      if (kind == "object") {
        if (!body.contains("classId") || !classes.count(body["classId"].get<std::string>()))
          return Error(res, 404, "class of the object does not exist");
        for (const char* f :
             {"cardTitle", "header", "state", "barcode", "hexBackgroundColor", "textModulesData"})
          if (!body.contains(f)) return Error(res, 400, std::string("missing ") + f);
      }
      body["kind"] = "walletobjects#generic" + std::string(kind == "object" ? "Object" : "Class");
      store[bid] = body;
      res.set_content(body.dump(), "application/json");
      return;
    }
    auto it = store.find(id);
    if (it == store.end()) return Error(res, 404, "Resource not found: " + id);
    if (req.method == "GET") {
      res.set_content(it->second.dump(), "application/json");
    } else if (req.method == "PUT") {
      if (body.value("id", "") != id) return Error(res, 400, "id in body differs from the path");
      it->second = body;
      res.set_content(body.dump(), "application/json");
    } else if (req.method == "PATCH") {
      if (body.contains("state")) {
        static const std::set<std::string> kStates = {"ACTIVE", "COMPLETED", "EXPIRED", "INACTIVE"};
        if (!body["state"].is_string() || !kStates.count(body["state"].get<std::string>()))
          return Error(res, 400, "bad state");
      }
      for (auto& [k, v] : body.items()) {
        if (v.is_null())
          it->second.erase(k);
        else
          it->second[k] = v;
      }
      res.set_content(it->second.dump(), "application/json");
    }
  }
};

GoogleStandIn::GoogleStandIn(std::string public_key_pem, std::string client_email)
    : impl_(std::make_unique<Impl>()) {
  auto* d = impl_.get();
  d->pem = std::move(public_key_pem);
  d->email = std::move(client_email);
  auto wrap = [d](auto fn) {
    return [d, fn](const httplib::Request& req, httplib::Response& res) {
      if (!d->Faulted(req, res)) fn(req, res);
      d->Record(req, res);
    };
  };
  d->server.Post("/token", wrap([d](const auto& req, auto& res) { d->Token(req, res); }));
  const std::string base = "/walletobjects/v1";
  auto objects = wrap([d](const auto& req, auto& res) { d->Resource(req, res, d->objects, "object"); });
  auto classes = wrap([d](const auto& req, auto& res) { d->Resource(req, res, d->classes, "class"); });
  d->server.Post(base + "/genericObject", objects);
  d->server.Get(base + "/genericObject/([^/]+)", objects);
  d->server.Put(base + "/genericObject/([^/]+)", objects);
  d->server.Patch(base + "/genericObject/([^/]+)", objects);
  d->server.Post(base + "/genericClass", classes);
  d->server.Get(base + "/genericClass/([^/]+)", classes);
  d->server.Put(base + "/genericClass/([^/]+)", classes);
  d->server.Patch(base + "/genericClass/([^/]+)", classes);
  d->server.set_tcp_nodelay(true);
  // Each kept-alive client connection holds a server thread: leave room for parallel clients.
  d->server.new_task_queue = [] {
    return new httplib::ThreadPool(48);
  };  // headers and body go out in separate writes: avoid Nagle delays
  d->port = d->server.bind_to_any_port("127.0.0.1");
  d->thread = std::thread([d] { d->server.listen_after_bind(); });
  while (!d->server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

GoogleStandIn::~GoogleStandIn() {
  impl_->server.stop();
  impl_->thread.join();
}

std::string GoogleStandIn::token_url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port) + "/token";
}
std::string GoogleStandIn::api_url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port) + "/walletobjects/v1";
}
void GoogleStandIn::AddFault(Fault f) {
  std::lock_guard l(impl_->mu);
  impl_->faults.push_back(std::move(f));
}
std::vector<GoogleStandIn::Request> GoogleStandIn::requests() const {
  std::lock_guard l(impl_->mu);
  return impl_->log;
}
size_t GoogleStandIn::CountRequests(const std::string& method, const std::string& path_prefix) const {
  std::lock_guard l(impl_->mu);
  return std::count_if(impl_->log.begin(), impl_->log.end(), [&](const Request& r) {
    return r.method == method && r.path.starts_with(path_prefix);
  });
}
size_t GoogleStandIn::token_grants() const {
  std::lock_guard l(impl_->mu);
  return impl_->grants;
}
std::vector<std::string> GoogleStandIn::assertion_errors() const {
  std::lock_guard l(impl_->mu);
  return impl_->assertion_errors;
}
void GoogleStandIn::RevokeTokens() {
  std::lock_guard l(impl_->mu);
  impl_->tokens.clear();
}
std::map<std::string, json> GoogleStandIn::objects() const {
  std::lock_guard l(impl_->mu);
  return impl_->objects;
}
std::map<std::string, json> GoogleStandIn::classes() const {
  std::lock_guard l(impl_->mu);
  return impl_->classes;
}
void GoogleStandIn::PutObject(const json& object) {
  std::lock_guard l(impl_->mu);
  impl_->objects[object["id"].get<std::string>()] = object;
}

}  // namespace lk::testing
